import { existsSync, readFileSync } from 'node:fs';
import { loadAll, YAMLException } from 'js-yaml';
import { SpecError } from './errors.ts';

export type JsonObject = Record<string, unknown>;

/** A spec as the options accept it: an object, a YAML/JSON string, or the path of a YAML/JSON file. */
export type SpecInput = JsonObject | string;

export interface LoadedSpec {
  spec: JsonObject;
  /** Where it came from, for messages: `file /x/pod.yaml`, `YAML string`, `object`. */
  source: string;
}

const looksLikePath = (text: string) =>
  !/[\n{:]/.test(text) && /\.(ya?ml|json)$/i.test(text.trim());

/**
 * Loads one manifest of `kind` from an object, a YAML/JSON string or a file path. A file may hold
 * several documents: the one of that kind is picked. Errors name the source, with the line and
 * column of a syntax error.
 */
export function loadSpec(input: SpecInput, kind: string, option: string): LoadedSpec {
  if (typeof input !== 'string') {
    if (input === null || typeof input !== 'object' || Array.isArray(input)) {
      throw new SpecError(
        `${option}: expected an object, a YAML/JSON string or a file path, got ${describe(input)}`,
        'object',
      );
    }
    return { spec: structuredClone(input), source: `${option} (object)` };
  }
  const text = input.trim();
  if (existsSync(text) && !text.includes('\n')) {
    const source = `file ${text}`;
    let content: string;
    try {
      content = readFileSync(text, 'utf8');
    } catch (error) {
      throw new SpecError(`${option}: cannot read ${source}: ${(error as Error).message}`, source);
    }
    return { spec: pick(parseDocuments(content, source, option), kind, source, option), source };
  }
  if (looksLikePath(text)) {
    throw new SpecError(`${option}: spec file not found: ${text}`, `file ${text}`);
  }
  const source = `${option} (YAML/JSON string)`;
  const documents = parseDocuments(input, source, option);
  if (documents.length !== 1) {
    throw new SpecError(
      `${source}: expected exactly one document, found ${documents.length}`,
      source,
    );
  }
  return { spec: pick(documents, kind, source, option), source };
}

function parseDocuments(text: string, source: string, option: string): unknown[] {
  try {
    return loadAll(text).filter((document) => document !== null && document !== undefined);
  } catch (error) {
    if (error instanceof YAMLException) {
      const mark = error.mark as { line?: number; column?: number } | undefined;
      const where =
        mark?.line !== undefined
          ? ` at line ${mark.line + 1}, column ${(mark.column ?? 0) + 1}`
          : '';
      throw new SpecError(
        `${option}: invalid YAML/JSON in ${source}${where}: ${error.reason}`,
        source,
      );
    }
    throw error;
  }
}

function pick(documents: unknown[], kind: string, source: string, option: string): JsonObject {
  const objects = documents.filter(
    (d): d is JsonObject => d !== null && typeof d === 'object' && !Array.isArray(d),
  );
  if (objects.length === 0) {
    throw new SpecError(
      `${option}: ${source} holds no manifest (expected a mapping with kind ${kind})`,
      source,
    );
  }
  if (objects.length === 1 && (objects[0]!.kind === undefined || objects[0]!.kind === kind)) {
    return objects[0]!;
  }
  const match = objects.find((object) => object.kind === kind);
  if (!match) {
    const kinds = objects
      .map((object) => (typeof object.kind === 'string' ? object.kind : '(no kind)'))
      .join(', ');
    throw new SpecError(
      `${option}: ${source} has no manifest of kind ${kind} (found: ${kinds})`,
      source,
      'kind',
    );
  }
  return match;
}

export function describe(value: unknown): string {
  if (value === null) {
    return 'null';
  }
  if (Array.isArray(value)) {
    return 'a list';
  }
  return typeof value === 'string'
    ? `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`
    : `a ${typeof value}`;
}
