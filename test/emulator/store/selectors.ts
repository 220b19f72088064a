import { badRequest } from '../apiErrors.ts';

/** A parsed label or field selector: every requirement must hold. */
export type Selector = (labelsOrFields: (key: string) => string | undefined) => boolean;

type Requirement = (get: (key: string) => string | undefined) => boolean;

const everything: Selector = () => true;

/** Parses a label selector in the apiserver's grammar: `a=b,c!=d,e in (x,y),f notin (z),g,!h`. */
export function parseLabelSelector(text: string | null | undefined): Selector {
  if (!text || !text.trim()) {
    return everything;
  }
  const requirements: Requirement[] = [];
  for (const clause of splitTopLevel(text)) {
    const part = clause.trim();
    let match: RegExpMatchArray | null;
    if ((match = /^([^\s!=(),]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(part))) {
      const [, key, op, list] = match;
      const values = new Set(
        list!
          .split(',')
          .map((v) => v.trim())
          .filter(Boolean),
      );
      requirements.push(
        op === 'in'
          ? (get) => values.has(get(key!) ?? '\0absent')
          : (get) => !values.has(get(key!) ?? '\0absent'),
      );
    } else if ((match = /^([^\s!=(),]+)\s*(==|=|!=)\s*([^\s!=(),]*)$/.exec(part))) {
      const [, key, op, value] = match;
      requirements.push(op === '!=' ? (get) => get(key!) !== value : (get) => get(key!) === value);
    } else if ((match = /^!\s*([^\s!=(),]+)$/.exec(part))) {
      const key = match[1]!;
      requirements.push((get) => get(key) === undefined);
    } else if ((match = /^([^\s!=(),]+)$/.exec(part))) {
      const key = match[1]!;
      requirements.push((get) => get(key) !== undefined);
    } else {
      throw badRequest(
        `unable to parse requirement: found '${part}', expected: in, notin, =, ==, !=, gt, lt`,
      );
    }
  }
  return (get) => requirements.every((requirement) => requirement(get));
}

/** Parses a field selector (`a=b,c!=d`) and rejects fields this resource does not index. */
export function parseFieldSelector(
  text: string | null | undefined,
  supported: readonly string[],
): Selector {
  if (!text || !text.trim()) {
    return everything;
  }
  const requirements: Requirement[] = [];
  for (const clause of text.split(',')) {
    const match = /^\s*([^!=\s]+)\s*(==|=|!=)\s*(.*?)\s*$/.exec(clause);
    if (!match) {
      throw badRequest(`invalid selector: '${text}'; can't understand '${clause}'`);
    }
    const [, key, op, value] = match;
    if (!supported.includes(key!)) {
      throw badRequest(`field label not supported: ${key!}`);
    }
    requirements.push(
      op === '!=' ? (get) => (get(key!) ?? '') !== value : (get) => (get(key!) ?? '') === value,
    );
  }
  return (get) => requirements.every((requirement) => requirement(get));
}

/** Reads a dotted field path (`status.phase`) of an object as the string the selector compares. */
export function fieldValue(object: unknown, path: string): string | undefined {
  let current: unknown = object;
  for (const segment of path.split('.')) {
    if (current === null || typeof current !== 'object') {
      return undefined;
    }
    current = (current as Record<string, unknown>)[segment];
  }
  if (current === undefined || current === null) {
    return undefined;
  }
  return typeof current === 'string' ? current : JSON.stringify(current);
}

function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '(') {
      depth++;
    } else if (c === ')') {
      depth--;
    } else if (c === ',' && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts;
}
