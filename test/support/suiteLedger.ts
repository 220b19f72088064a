import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The suite ledger: a directory (named by POD_RUNNER_SUITE_LEDGER, set by test/runSuite.ts) where
 * every test process and every emulator writes what it left behind, so the whole suite can be
 * audited after its last process ends.
 */
export const suiteLedgerVariable = 'POD_RUNNER_SUITE_LEDGER';

/** What a test process still had open when its tests were over. */
export interface ProcessRecord {
  file: string;
  pid: number;
  openHandles: string[];
}

/** What Pod Runner had left in an emulator (by its managed-by label) when the emulator stopped. */
export interface EmulatorRecord {
  file: string;
  url: string;
  pods: string[];
  secrets: string[];
  services: string[];
}

interface Ledger {
  processes: ProcessRecord;
  emulators: EmulatorRecord;
}

/** Appends a record when the suite runner asked for a ledger; synchronous, so it works in an `exit` handler. */
export function recordInSuiteLedger<K extends keyof Ledger>(kind: K, record: Ledger[K]): void {
  const directory = process.env[suiteLedgerVariable];
  if (directory) {
    appendFileSync(join(directory, `${kind}.jsonl`), `${JSON.stringify(record)}\n`);
  }
}

export function readSuiteLedger<K extends keyof Ledger>(directory: string, kind: K): Ledger[K][] {
  const path = join(directory, `${kind}.jsonl`);
  if (!existsSync(path)) {
    return [];
  }
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as Ledger[K]);
}

/**
 * node's arguments for running test files as the suite does: each file's process audited by
 * processAudit.ts, and made to exit once its tests are over (so a leak fails instead of hanging).
 */
export function auditedTestArguments(files: string[], runnerOptions: string[] = []): string[] {
  return [
    '--import',
    'tsx',
    '--import',
    join(__dirname, 'processAudit.ts'),
    '--test',
    '--test-force-exit',
    ...runnerOptions,
    ...files,
  ];
}

/** The test file a process runs (node --test starts one process per file, the file as argv[1]). */
export function currentTestFile(): string {
  return process.argv[1] ?? '(unknown)';
}
