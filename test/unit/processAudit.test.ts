import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import {
  auditedTestArguments,
  readSuiteLedger,
  suiteLedgerVariable,
} from '../support/suiteLedger.ts';

const root = resolve(__dirname, '../..');

/** This process's environment without node:test's own marker, which would make the nested run report to us. */
function fixtureEnvironment(ledger: string): NodeJS.ProcessEnv {
  const { NODE_TEST_CONTEXT: _ignored, ...environment } = process.env;
  return { ...environment, [suiteLedgerVariable]: ledger };
}

/** Runs one fixture file the way test/runSuite.ts runs every test file. */
async function runFixture(name: string) {
  const ledger = await mkdtemp(join(tmpdir(), 'pod-runner-audit-test-'));
  try {
    const child = spawn(
      process.execPath,
      auditedTestArguments([join(root, 'test/support/fixtures', name)]),

      { cwd: root, env: fixtureEnvironment(ledger) },
    );
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exitCode = await new Promise<number | null>((done) => child.once('exit', done));
    return { exitCode, output, records: readSuiteLedger(ledger, 'processes') };
  } finally {
    await rm(ledger, { recursive: true, force: true });
  }
}

test('a test file that leaves a server open fails, naming it, instead of hanging the suite', async () => {
  const run = await runFixture('leavesServerOpen.fixture.ts');
  assert.notEqual(run.exitCode, 0, run.output);
  assert.match(run.output, /leavesServerOpen\.fixture\.ts: still open when its tests ended:/);
  assert.match(run.output, /- server listening on 127\.0\.0\.1:\d+/);
  assert.equal(run.records.length, 1);
  assert.match(run.records[0]!.openHandles.join('\n'), /^server listening on 127\.0\.0\.1:\d+$/);
});

test('a test file that closes what it opens passes and records no open handle', async () => {
  const run = await runFixture('closesEverything.fixture.ts');
  assert.equal(run.exitCode, 0, run.output);
  assert.deepEqual(
    run.records.map((record) => record.openHandles),
    [[]],
  );
});
