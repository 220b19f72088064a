import * as esbuild from 'esbuild';
import { pathToFileURL } from 'node:url';

const production = process.argv.includes('--production');
const watch = process.argv.includes('--watch');

/** @type {import('esbuild').BuildOptions} */
const common = {
  outdir: 'dist',
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  external: ['vscode', 'bufferutil', 'utf-8-validate'],
  sourcemap: !production,
  minify: production,
  logLevel: 'info',
};

/**
 * The extension's own code stays small and is all that activation loads; the core library
 * (@kubernetes/client-node, ws, js-yaml) is a second file the extension loads on first use.
 */
const coreAsSeparateFile = {
  name: 'core-as-separate-file',
  setup(build) {
    build.onResolve({ filter: /\/core\/index\.ts$/ }, () => ({
      path: './core.js',
      external: true,
    }));
  },
};

/**
 * The bundles: the extension's activation code, the core library it loads on first use, and the
 * MCP server (`pod-runner-mcp`), which has the MCP SDK and the core in it and shares nothing with
 * the extension's files.
 */
export const builds = [
  {
    ...common,
    entryPoints: { extension: 'src/extension/extension.ts' },
    plugins: [coreAsSeparateFile],
    // `import()` of the core becomes a plain require of dist/core.js.
    supported: { 'dynamic-import': false },
  },
  { ...common, entryPoints: { core: 'src/core/index.ts' } },
  {
    ...common,
    entryPoints: { mcp: 'src/mcp/cli.ts' },
    banner: { js: '#!/usr/bin/env node' },
  },
];

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  if (watch) {
    for (const options of builds) {
      await (await esbuild.context(options)).watch();
    }
  } else {
    await Promise.all(builds.map((options) => esbuild.build(options)));
  }
}
