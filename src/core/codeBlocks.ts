import { createHash } from 'node:crypto';
import type { PathMapping } from './pathMapping.ts';

export interface CodeBlock {
  language: string;
  code: string;
}

export interface CommandLineCodeResult {
  exitCode: number;
  output: string;
  /** The pod path of the first block's file (of the file run, for runFile). */
  codeFile?: string;
  /**
   * The synced folders and, for code with a `source`, its code file mapped to that file: map the
   * output with `remoteToLocal(result.output, result.pathMappings)`.
   */
  pathMappings?: PathMapping[];
}

export interface LanguageRuntime {
  /** The canonical language name. */
  name: 'python' | 'sh' | 'bash' | 'pwsh';
  extension: 'py' | 'sh' | 'ps1';
  /** Interpreters to try in the pod, first found wins. */
  interpreters: string[];
}

const runtimes: Record<string, LanguageRuntime> = {
  python: { name: 'python', extension: 'py', interpreters: ['python', 'python3'] },
  bash: { name: 'bash', extension: 'sh', interpreters: ['bash'] },
  sh: { name: 'sh', extension: 'sh', interpreters: ['sh'] },
  pwsh: { name: 'pwsh', extension: 'ps1', interpreters: ['pwsh', 'powershell'] },
};

const aliases: Record<string, string> = {
  python: 'python',
  py: 'python',
  python3: 'python',
  bash: 'bash',
  sh: 'sh',
  shell: 'sh',
  pwsh: 'pwsh',
  powershell: 'pwsh',
  ps1: 'pwsh',
};

export const supportedLanguages = Object.keys(aliases);

/** The runtime of a block's language (case-insensitive), or undefined when it is not supported. */
export function runtimeFor(language: string): LanguageRuntime | undefined {
  const name = aliases[language.trim().toLowerCase()];
  return name ? runtimes[name] : undefined;
}

/** Adds `-qqq` to `pip install` lines as the seed does (python: `!pip`/`! pip`; shells: `pip`). */
export function silencePip(code: string, runtime: LanguageRuntime): string {
  const pattern = runtime.name === 'python' ? /^! ?pip install/ : /^pip install/;
  return code
    .split('\n')
    .map((line) => (pattern.test(line) && !line.includes('-qqq') ? `${line} -qqq` : line))
    .join('\n');
}

/** The `# filename: x` of the first line, if any. */
export function declaredFilename(code: string): string | undefined {
  const first = code.split('\n', 1)[0] ?? '';
  const match = /^#\s*filename:(.*)$/.exec(first.trim());
  const name = match?.[1]?.trim();
  return name ? name : undefined;
}

/**
 * `tmp_code_<sha256>.<ext>`, as the seed names files: the hash of the code, and of `nonce` when
 * given (a file removed after its run must be its run's alone: a concurrent run of the same code
 * may not have opened its copy yet).
 */
export function generatedFilename(code: string, runtime: LanguageRuntime, nonce?: string): string {
  const hash = createHash('sha256').update(code);
  if (nonce !== undefined) {
    hash.update(`\0${nonce}`);
  }
  return `tmp_code_${hash.digest('hex')}.${runtime.extension}`;
}
