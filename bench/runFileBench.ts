import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PodCommandLineCodeExecutor } from '../src/core/index.ts';
import type { BenchRow } from './report.ts';
import { median, ms } from './stats.ts';

/**
 * P9: Run File of a script that imports a sibling module, end to end as the extension does it:
 * the sync before the run (which finds nothing changed) and the run in place.
 */
export async function prepareRunFile(executor: PodCommandLineCodeExecutor) {
  const dir = await mkdtemp(join(tmpdir(), 'pod-runner-bench-p9-'));
  const project = join(dir, 'project');
  await mkdir(join(project, 'app'), { recursive: true });
  await writeFile(join(project, 'app/__init__.py'), '');
  await writeFile(join(project, 'app/util.py'), 'def double(x):\n    return 2 * x\n');
  await writeFile(join(project, 'app/main.py'), 'from app.util import double\nprint(double(21))\n');
  await executor.syncWorkspace(project);
  return {
    runOnce: async (): Promise<void> => {
      await executor.syncWorkspace(project);
      const result = await executor.runFile('app/main.py');
      if (result.output !== '42\n') {
        throw new Error(`P9 output: ${result.output}`);
      }
    },
    dispose: () => rm(dir, { recursive: true, force: true }),
  };
}

export function runFileRow(runFile: number[], printBlock: number[]): BenchRow {
  const [ours, p1] = [median(runFile), median(printBlock)];
  return {
    id: 'P9',
    what: 'Run File of a script importing a sibling module (sync with nothing changed + run)',
    ours: ms(ours),
    peer: `P1 \`print(1)\` block: ${ms(p1)}`,
    ratio: ours / p1,
    target: '≤ 1.1×',
    met: ours / p1 <= 1.1,
  };
}
