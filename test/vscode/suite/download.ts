import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as vscode from 'vscode';
import type { DownloadResult } from '../../../src/core/index.ts';
import { check, withTimeout, type HostFeature } from './host.ts';
import { remoteRoot } from './project.ts';

export const downloadFeature: HostFeature = {
  feature: 'Download from Pod',
  tests: [
    {
      name: 'Download from Pod copies a folder the code wrote into a local folder',
      run: async (api) => {
        const written = await api.runCode(
          'bash',
          `mkdir -p ${remoteRoot()}/results/plots && printf 'total,5.00\\n' > ${remoteRoot()}/results/summary.csv && printf 'png' > ${remoteRoot()}/results/plots/a.png`,
        );
        check(written.exitCode === 0, `writing the results: ${written.output}`);
        const local = await mkdtemp(join(tmpdir(), 'pod-runner-download-'));
        try {
          const result = await withTimeout(
            vscode.commands.executeCommand<DownloadResult>(
              'podRunner.downloadFromPod',
              `${remoteRoot()}/results`,
              local,
              'executor',
            ),
            60_000,
            'Download from Pod',
          );
          check(result, 'the command resolved to no result');
          check(result.files === 2 && result.bytes === 14, `downloaded ${JSON.stringify(result)}`);
          const summary = await readFile(join(result.localPath, 'summary.csv'), 'utf8');
          check(summary === 'total,5.00\n', `summary.csv: ${summary}`);
          const plot = await readFile(join(result.localPath, 'plots', 'a.png'), 'utf8');
          check(plot === 'png', `plots/a.png: ${plot}`);
        } finally {
          await rm(local, { recursive: true, force: true });
          await api.runCode('bash', `rm -rf ${remoteRoot()}/results`);
        }
      },
    },
  ],
};
