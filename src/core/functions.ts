/** Python functions the executor puts in a module in the pod, with their imports and packages. */

export interface Alias {
  name: string;
  alias: string;
}

export interface ImportFromModule {
  module: string;
  imports: (string | Alias)[];
}

/** `"json"` → `import json`; Alias → `import numpy as np`; ImportFromModule → `from m import a, b as c`. */
export type GlobalImport = string | Alias | ImportFromModule;

export interface FunctionWithRequirements {
  /** The function's Python source, starting with `def` (a leading decorator line is dropped). */
  source: string;
  pythonPackages?: string[];
  globalImports?: GlobalImport[];
}

export function withRequirements(
  source: string,
  requirements: { pythonPackages?: string[]; globalImports?: GlobalImport[] } = {},
): FunctionWithRequirements {
  return { source, ...requirements };
}

function renderImport(entry: GlobalImport): string {
  if (typeof entry === 'string') {
    return `import ${entry}`;
  }
  if ('module' in entry) {
    const names = entry.imports.map((item) =>
      typeof item === 'string' ? item : `${item.name} as ${item.alias}`,
    );
    return `from ${entry.module} import ${names.join(', ')}`;
  }
  return `import ${entry.name} as ${entry.alias}`;
}

function dedent(source: string): string {
  const lines = source.replace(/\r\n/g, '\n').split('\n');
  while (lines.length && !lines[0]!.trim()) {
    lines.shift();
  }
  const indent = Math.min(...lines.filter((l) => l.trim()).map((l) => /^\s*/.exec(l)![0].length));
  const body = lines.map((l) => l.slice(Number.isFinite(indent) ? indent : 0));
  return (body[0]?.startsWith('@') ? body.slice(1) : body).join('\n').trimEnd();
}

/** The module's text: every global import once, then each function. */
export function buildFunctionsModule(functions: readonly FunctionWithRequirements[]): string {
  const imports = [...new Set(functions.flatMap((f) => (f.globalImports ?? []).map(renderImport)))];
  const bodies = functions.map((f) => dedent(f.source));
  return `${imports.join('\n')}${imports.length ? '\n\n' : ''}${bodies.join('\n\n\n')}\n`;
}

export function requiredPackages(functions: readonly FunctionWithRequirements[]): string[] {
  return [...new Set(functions.flatMap((f) => f.pythonPackages ?? []))].sort();
}

export function functionName(fn: FunctionWithRequirements): string {
  const match = /^\s*(?:async\s+)?def\s+([A-Za-z_][A-Za-z0-9_]*)/m.exec(dedent(fn.source));
  if (!match) {
    throw new Error(
      `a function's source must start with "def name(...)": ${fn.source.slice(0, 60)}`,
    );
  }
  return match[1]!;
}

/** The signature and docstring of a function, with `...` for its body. */
function stub(fn: FunctionWithRequirements): string {
  const source = dedent(fn.source);
  const signature =
    /^(?:async\s+)?def\s[\s\S]*?\)\s*(?:->\s*[^:]+)?:/m.exec(source)?.[0] ??
    `def ${functionName(fn)}(...):`;
  const afterSignature = source.slice(source.indexOf(signature) + signature.length);
  const docstring = /^\s*("""[\s\S]*?"""|'''[\s\S]*?''')/.exec(afterSignature)?.[1];
  return `${signature}\n    ${docstring ? `${docstring}\n    ` : ''}...`;
}

/** Text for a model's prompt: what the module offers and how to import it. */
export function formatFunctionsForPrompt(
  functions: readonly FunctionWithRequirements[],
  moduleName = 'functions',
): string {
  const names = functions.map(functionName);
  return [
    `These functions are available in the Python module \`${moduleName}\`; import them by name, for example:`,
    '',
    `from ${moduleName} import ${names[0] ?? 'name'}`,
    '',
    ...functions.map(stub).flatMap((s) => [s, '']),
  ].join('\n');
}
