import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { BuildOptions } from 'esbuild';
import { withEmulator } from '../support/emulatorFixture.ts';
import { scratchDir } from '../support/scratch.ts';
import { pods, repoRoot, runProcess } from './mcpHarness.ts';
import { pythonWithMcp } from './pythonMcp.ts';

type Emulator = Awaited<ReturnType<typeof withEmulator>>;

async function loadBuilds(): Promise<BuildOptions[]> {
  // The build script is plain JavaScript: its module is typed here, where it is used.
  const buildScript = '../../esbuild.mjs';
  return ((await import(buildScript)) as { builds: BuildOptions[] }).builds;
}

const entryOf = (options: BuildOptions) => JSON.stringify(options.entryPoints);

describe('the pod-runner-mcp bundle, driven by an independent client (Python mcp from PyPI)', () => {
  let emulator: Emulator;
  let bundle: string;
  const out = scratchDir('pod-runner-mcp-bundle-');

  before(async () => {
    emulator = await withEmulator({ backoffBaseMs: 200 });
    const { build } = await import('esbuild');
    const mcp = (await loadBuilds()).find((options) => entryOf(options).includes('src/mcp/cli.ts'));
    assert.ok(mcp, 'esbuild.mjs builds the MCP server');
    await build({ ...mcp, outdir: out, logLevel: 'silent' });
    bundle = join(out, 'mcp.js');
  });

  after(async () => {
    assert.deepEqual(await pods(emulator), [], 'no pod of the MCP server is left');
    await emulator.verifyNoLeaks();
  });

  test("the extension's bundles leave the MCP SDK out", async () => {
    const { build } = await import('esbuild');
    for (const options of await loadBuilds()) {
      if (entryOf(options).includes('src/mcp/')) {
        continue;
      }
      const result = await build({ ...options, write: false, metafile: true, logLevel: 'silent' });
      const bundled = Object.keys(result.metafile.inputs).filter((path) =>
        /node_modules\/(@modelcontextprotocol|zod)\//.test(path),
      );
      assert.deepEqual(bundled, [], `${entryOf(options)} has no MCP code in it`);
    }
  });

  test('dist/mcp.js is an executable CommonJS script for Node 20 and prints its usage', async () => {
    assert.equal(readFileSync(bundle, 'utf8').split('\n', 1)[0], '#!/usr/bin/env node');
    const help = await runProcess(process.execPath, [bundle, '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^Usage: pod-runner-mcp <commandline\|jupyter> \[options\]/);
    const bad = await runProcess(process.execPath, [bundle, 'commandline', '--port', 'x']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--port: expected a port number from 0 to 65535, got "x"/);
  });

  test("Python's mcp client lists the tools and runs print(6*7) in a pod over stdio", async () => {
    const python = await pythonWithMcp();
    const { code, stdout, stderr } = await runProcess(python, [
      join(repoRoot, 'test', 'mcp', 'clients', 'python_mcp_client.py'),
      process.execPath,
      bundle,
      'commandline',
      '--kubeconfig',
      emulator.kubeconfigPath,
      '--pod-name',
      'mcp-python-client',
    ]);
    assert.equal(code, 0, stderr);
    assert.deepEqual(JSON.parse(stdout), {
      tools: ['bash', 'python'],
      isError: false,
      text: ['42\n[exit code: 0]'],
    });
    // The client closed the server's stdin; the server deleted its pod before exiting.
    assert.match(stderr, /deleting the sessions' pods/);
    assert.deepEqual(await pods(emulator), []);
  });
});
