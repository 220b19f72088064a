import { badRequest } from './apiErrors.ts';

/**
 * Typed clients (kubectl's `auth can-i`) send SelfSubjectAccessReviews as Kubernetes protobuf:
 * the `k8s\0` magic, then a runtime.Unknown { typeMeta=1, raw=2 } whose raw bytes are the
 * review. This decodes just enough of the wire format to read its spec.
 */

const magic = Buffer.from([0x6b, 0x38, 0x73, 0x00]);

type Fields = Map<number, Buffer[]>;

function readVarint(buffer: Buffer, offset: number): [number, number] {
  let value = 0;
  let shift = 0;
  for (;;) {
    if (offset >= buffer.length) {
      throw badRequest('protobuf: truncated varint');
    }
    const byte = buffer[offset++]!;
    value += (byte & 0x7f) * 2 ** shift;
    if ((byte & 0x80) === 0) {
      return [value, offset];
    }
    shift += 7;
  }
}

/** Length-delimited fields by number; other wire types are skipped. */
function fields(buffer: Buffer): Fields {
  const result: Fields = new Map();
  let offset = 0;
  while (offset < buffer.length) {
    const [key, afterKey] = readVarint(buffer, offset);
    const wireType = key & 7;
    const number = Math.floor(key / 8);
    offset = afterKey;
    if (wireType === 0) {
      offset = readVarint(buffer, offset)[1];
    } else if (wireType === 1) {
      offset += 8;
    } else if (wireType === 5) {
      offset += 4;
    } else if (wireType === 2) {
      const [length, start] = readVarint(buffer, offset);
      const value = buffer.subarray(start, start + length);
      result.set(number, [...(result.get(number) ?? []), value]);
      offset = start + length;
    } else {
      throw badRequest(`protobuf: unsupported wire type ${wireType}`);
    }
  }
  return result;
}

function text(map: Fields, number: number): string | undefined {
  return map.get(number)?.[0]?.toString('utf8');
}

export function isKubernetesProtobuf(body: Buffer): boolean {
  return body.length >= 4 && body.subarray(0, 4).equals(magic);
}

/** Decodes a protobuf SelfSubjectAccessReview or SelfSubjectRulesReview into its JSON shape. */
export function decodeReview(body: Buffer): Record<string, unknown> {
  const unknown = fields(body.subarray(4));
  const typeMeta = fields(unknown.get(1)?.[0] ?? Buffer.alloc(0));
  const kind = text(typeMeta, 2);
  const review = fields(unknown.get(2)?.[0] ?? Buffer.alloc(0));
  const spec = fields(review.get(2)?.[0] ?? Buffer.alloc(0));
  if (kind === 'SelfSubjectRulesReview') {
    return { kind, spec: { namespace: text(spec, 1) ?? '' } };
  }
  if (kind !== 'SelfSubjectAccessReview') {
    throw new Error(
      `protobuf bodies are accepted for access reviews only, not ${kind ?? 'unknown kind'}`,
    );
  }
  const resource = spec.get(1)?.[0];
  const nonResource = spec.get(2)?.[0];
  if (resource) {
    const attributes = fields(resource);
    const names = ['namespace', 'verb', 'group', 'version', 'resource', 'subresource', 'name'];
    const resourceAttributes: Record<string, string> = {};
    names.forEach((name, index) => {
      const value = text(attributes, index + 1);
      if (value !== undefined) {
        resourceAttributes[name] = value;
      }
    });
    return { kind, spec: { resourceAttributes } };
  }
  const attributes = fields(nonResource ?? Buffer.alloc(0));
  return {
    kind,
    spec: {
      nonResourceAttributes: { path: text(attributes, 1) ?? '', verb: text(attributes, 2) ?? '' },
    },
  };
}
