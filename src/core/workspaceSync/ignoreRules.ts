/**
 * gitignore semantics: the rules of one file, and a stack of files from the root down in which a
 * later (deeper) match wins.
 */

export interface IgnoreRule {
  negated: boolean;
  dirOnly: boolean;
  regex: RegExp;
}

/** The rules of one ignore file, applying to paths under `base`. */
export interface IgnoreLayer {
  /** The folder (relative to the synced root, POSIX, '' for the root) the rules apply under. */
  base: string;
  /**
   * Prepended to paths relative to `base` before matching: the way from the ignore file's own
   * folder down to `base` (for the .gitignore files of folders above the synced root).
   */
  prefix: string;
  rules: IgnoreRule[];
}

/** The rules of one .gitignore (or exclude) text; blank lines, comments and invalid lines drop out. */
export function parseIgnoreText(text: string): IgnoreRule[] {
  return text
    .split(/\r?\n/)
    .map(compileIgnorePattern)
    .filter((rule): rule is IgnoreRule => rule !== undefined);
}

export function compileIgnorePattern(line: string): IgnoreRule | undefined {
  let pattern = stripTrailingSpaces(line);
  if (pattern === '' || pattern.startsWith('#')) {
    return undefined;
  }
  const negated = pattern.startsWith('!');
  if (negated) {
    pattern = pattern.slice(1);
  }
  const dirOnly = pattern.endsWith('/') && !pattern.endsWith('\\/');
  if (dirOnly) {
    pattern = pattern.replace(/\/+$/, '');
  }
  if (pattern === '') {
    return undefined;
  }
  // A slash at the start or in the middle anchors the pattern to the ignore file's folder.
  const anchored = pattern.includes('/');
  if (pattern.startsWith('/')) {
    pattern = pattern.slice(1);
  }
  const body = patternToRegex(pattern);
  if (body === undefined) {
    return undefined;
  }
  return { negated, dirOnly, regex: new RegExp(`^${anchored ? '' : '(?:.*/)?'}${body}$`, 's') };
}

/** Trailing spaces are dropped unless escaped with a backslash. */
function stripTrailingSpaces(line: string): string {
  let end = line.length;
  while (end > 0 && line[end - 1] === ' ' && !isEscaped(line, end - 1)) {
    end--;
  }
  return line.slice(0, end);
}

function isEscaped(text: string, index: number): boolean {
  let backslashes = 0;
  for (let i = index - 1; i >= 0 && text[i] === '\\'; i--) {
    backslashes++;
  }
  return backslashes % 2 === 1;
}

const regexSpecial = /[.*+?^${}()|[\]\\/-]/g;
const escapeRegex = (text: string) => text.replace(regexSpecial, '\\$&');

/** A glob as a regular expression body; undefined for an invalid pattern (a trailing backslash). */
function patternToRegex(pattern: string): string | undefined {
  let out = '';
  for (let i = 0; i < pattern.length;) {
    const char = pattern[i]!;
    if (char === '\\') {
      if (i + 1 >= pattern.length) {
        return undefined;
      }
      out += escapeRegex(pattern[i + 1]!);
      i += 2;
    } else if (char === '*') {
      let end = i;
      while (pattern[end] === '*') {
        end++;
      }
      const wholeSegment =
        end - i >= 2 &&
        (i === 0 || pattern[i - 1] === '/') &&
        (end === pattern.length || pattern[end] === '/');
      if (!wholeSegment) {
        out += '[^/]*';
      } else if (end === pattern.length) {
        // `dir/**` is everything inside dir; a lone `**` is everything.
        out += i === 0 ? '.*' : '.+';
      } else {
        // `**/` at the start or `/**/` in the middle: zero or more folders.
        out += '(?:.*/)?';
        end++;
      }
      i = end;
    } else if (char === '?') {
      out += '[^/]';
      i++;
    } else if (char === '[') {
      const bracket = bracketToRegex(pattern, i);
      if (bracket) {
        out += bracket.regex;
        i = bracket.end;
      } else {
        out += '\\[';
        i++;
      }
    } else {
      out += escapeRegex(char);
      i++;
    }
  }
  return out;
}

const posixClasses: Record<string, string> = {
  alnum: 'a-zA-Z0-9',
  alpha: 'a-zA-Z',
  blank: ' \\t',
  digit: '0-9',
  lower: 'a-z',
  upper: 'A-Z',
  space: ' \\t\\n\\r\\f\\v',
  punct: '!-\\/:-@\\[-`{-~',
  xdigit: '0-9a-fA-F',
};

/** `[...]` from `start`: a class that never matches '/', or undefined when it is not closed. */
function bracketToRegex(
  pattern: string,
  start: number,
): { regex: string; end: number } | undefined {
  let i = start + 1;
  let negated = false;
  if (pattern[i] === '!' || pattern[i] === '^') {
    negated = true;
    i++;
  }
  let members = '';
  let first = true;
  while (i < pattern.length) {
    const char = pattern[i]!;
    if (char === ']' && !first) {
      return {
        regex: negated ? `[^/${members}]` : `(?!/)[${members}]`,
        end: i + 1,
      };
    }
    first = false;
    if (char === '[' && pattern[i + 1] === ':') {
      const close = pattern.indexOf(':]', i + 2);
      const name = close === -1 ? undefined : pattern.slice(i + 2, close);
      if (name !== undefined && posixClasses[name] !== undefined) {
        members += posixClasses[name];
        i = close + 2;
        continue;
      }
    }
    if (char === '\\' && i + 1 < pattern.length) {
      members += escapeClassChar(pattern[i + 1]!);
      i += 2;
      continue;
    }
    if (char === '-' && members !== '' && pattern[i + 1] !== undefined && pattern[i + 1] !== ']') {
      members += '-';
      i++;
      continue;
    }
    members += escapeClassChar(char);
    i++;
  }
  return undefined;
}

const escapeClassChar = (char: string) => (/[\\\]^[-]/.test(char) ? `\\${char}` : char);

/** Whether the rules ignore `path` (relative to the root, POSIX): the last matching rule decides. */
export function isIgnored(layers: readonly IgnoreLayer[], path: string, isDir: boolean): boolean {
  for (let l = layers.length - 1; l >= 0; l--) {
    const layer = layers[l]!;
    if (layer.base !== '' && !path.startsWith(`${layer.base}/`)) {
      continue;
    }
    const relative = layer.prefix + (layer.base === '' ? path : path.slice(layer.base.length + 1));
    for (let r = layer.rules.length - 1; r >= 0; r--) {
      const rule = layer.rules[r]!;
      if ((!rule.dirOnly || isDir) && rule.regex.test(relative)) {
        return !rule.negated;
      }
    }
  }
  return false;
}
