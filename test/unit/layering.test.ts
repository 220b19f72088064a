import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { BuildOptions } from 'esbuild';
import { ESLint } from 'eslint';

const source = "import * as vscode from 'vscode';\nexport const window = vscode.window;\n";

test('the lint rule refuses a vscode import in src/core and allows it in src/extension', async () => {
  // The real config, with only the layering rule and without type information (the files are virtual).
  const eslint = new ESLint({
    ruleFilter: ({ ruleId }) => ruleId === '@typescript-eslint/no-restricted-imports',
    overrideConfig: {
      languageOptions: { parserOptions: { projectService: false, project: null } },
    },
  });
  const [core] = await eslint.lintText(source, { filePath: 'src/core/forbidden.ts' });
  const messages = core!.messages.filter(
    (m) => m.ruleId === '@typescript-eslint/no-restricted-imports',
  );
  assert.equal(messages.length, 1);
  assert.match(messages[0]!.message, /src\/core must not depend on the VS Code API/);
  const [extension] = await eslint.lintText(source, { filePath: 'src/extension/allowed.ts' });
  assert.equal(
    extension!.messages.filter((m) => m.ruleId === '@typescript-eslint/no-restricted-imports')
      .length,
    0,
  );
});

test('the activation bundle leaves the core library out: no client-node or ws in it', async () => {
  // The build script is plain JavaScript: its module is typed here, where it is used.
  const buildScript = '../../esbuild.mjs';
  const { builds } = (await import(buildScript)) as { builds: BuildOptions[] };
  const { build } = await import('esbuild');
  const activation = builds.find((options) =>
    JSON.stringify(options.entryPoints).includes('src/extension/extension.ts'),
  );
  assert.ok(activation, 'esbuild.mjs builds the extension');
  const result = await build({
    ...activation,
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
  const bundled = Object.keys(result.metafile.inputs).filter((path) =>
    /node_modules\/(@kubernetes\/client-node|ws)\//.test(path),
  );
  assert.deepEqual(bundled, [], 'the core library is loaded on first use, not on activation');
});
