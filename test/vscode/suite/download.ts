import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
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
    {
      name: 'a relative path is taken from the synced root; what exists locally is replaced only with consent',
      run: async (api) => {
        const written = await api.runCode(
          'bash',
          `mkdir -p ${remoteRoot()}/results && printf 'from the pod\\n' > ${remoteRoot()}/results/summary.csv`,
        );
        check(written.exitCode === 0, `writing the results: ${written.output}`);
        const local = await mkdtemp(join(tmpdir(), 'pod-runner-download-'));
        const summary = join(local, 'results', 'summary.csv');
        const download = (overwrite: boolean) =>
          withTimeout(
            vscode.commands.executeCommand<DownloadResult | undefined>(
              'podRunner.downloadFromPod',
              'results',
              local,
              'executor',
              overwrite,
            ),
            60_000,
            'Download from Pod',
          );
        try {
          await mkdir(join(local, 'results'));
          await writeFile(summary, 'local edits\n');
          const refused = await download(false);
          check(refused === undefined, `downloaded without consent: ${JSON.stringify(refused)}`);
          const kept = await readFile(summary, 'utf8');
          check(kept === 'local edits\n', `the local file was overwritten: ${kept}`);
          const replaced = await download(true);
          check(replaced?.files === 1, `with consent: ${JSON.stringify(replaced)}`);
          const now = await readFile(summary, 'utf8');
          check(now === 'from the pod\n', `summary.csv after the download: ${now}`);
        } finally {
          await rm(local, { recursive: true, force: true });
          await api.runCode('bash', `rm -rf ${remoteRoot()}/results`);
        }
      },
    },
  ],
};
