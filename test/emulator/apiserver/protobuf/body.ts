import { badRequest } from '../../apiErrors.ts';
import { MalformedProtobuf, readFields, WireType, type WireField } from './wire.ts';
import { isMessageName, messageSchema, type FieldSchema, type MessageName } from './schema.ts';
import { apiVersionOf, resourceTypes } from '../../resources.ts';

/**
 * Request bodies in `application/vnd.kubernetes.protobuf` (kubectl's typed commands send them):
 * the `k8s\0` magic, then a runtime.Unknown whose typeMeta names the kind and whose raw bytes are
 * the object. They are decoded into the object's JSON form, the one every other body has.
 */

export const protobufContentType = 'application/vnd.kubernetes.protobuf';

const magic = Buffer.from('k8s\0', 'latin1');

type Json = Record<string, unknown>;

/** runtime.Unknown in its JSON form (raw in base64). */
interface RuntimeUnknown {
  typeMeta?: { apiVersion?: string; kind?: string };
  raw?: string;
  contentEncoding?: string;
  contentType?: string;
}

/** Kinds a protobuf body may carry: every kind the emulator serves, and DeleteOptions. */
function decodableKind(apiVersion: string, kind: string): boolean {
  return (
    kind === 'DeleteOptions' ||
    resourceTypes.some((type) => type.kind === kind && apiVersionOf(type) === apiVersion)
  );
}

export function decodeProtobufBody(body: Buffer): Json {
  if (!body.subarray(0, magic.length).equals(magic)) {
    throw badRequest(
      `the body is not a Kubernetes protobuf object: it does not start with the "k8s\\x00" prefix`,
    );
  }
  try {
    const envelope = decodeMessage(body.subarray(magic.length), 'Unknown') as RuntimeUnknown;
    const apiVersion = envelope.typeMeta?.apiVersion ?? '';
    const kind = envelope.typeMeta?.kind ?? '';
    if (envelope.contentEncoding) {
      throw badRequest(`content encoding "${envelope.contentEncoding}" is not supported`);
    }
    if (envelope.contentType && envelope.contentType !== protobufContentType) {
      throw badRequest(`content type "${envelope.contentType}" is not supported`);
    }
    if (!decodableKind(apiVersion, kind) || !isMessageName(kind)) {
      throw badRequest(`no kind "${kind}" is registered for version "${apiVersion}"`);
    }
    const raw = Buffer.from(envelope.raw ?? '', 'base64');
    return { apiVersion, kind, ...decodeMessage(raw, kind) };
  } catch (error) {
    if (error instanceof MalformedProtobuf) {
      throw badRequest(`the body is not a valid Kubernetes protobuf object: ${error.message}`);
    }
    throw error;
  }
}

function decodeMessage(buffer: Buffer, name: MessageName): Json {
  const schema = messageSchema(name);
  const result: Json = {};
  for (const field of readFields(buffer)) {
    const spec = schema.get(field.number);
    if (!spec) {
      continue;
    }
    const value = decodeValue(field, spec, name);
    if (spec.inline) {
      Object.assign(result, value);
    } else if (spec.mapOf) {
      const [key, entry] = value as [string, unknown];
      ((result[spec.name] ??= {}) as Json)[key] = entry;
    } else if (spec.repeated) {
      ((result[spec.name] ??= []) as unknown[]).push(value);
    } else {
      result[spec.name] = value;
    }
  }
  // Go leaves zero values of non-pointer fields out of its JSON (omitempty); so does this.
  for (const [, spec] of schema) {
    const value = result[spec.name];
    if (!spec.pointer && (value === '' || value === 0 || value === false || value === null)) {
      delete result[spec.name];
    }
  }
  return result;
}

function expectWireType(field: WireField, wireType: WireType, owner: string): void {
  if (field.wireType !== wireType) {
    throw new MalformedProtobuf(
      `field ${field.number} of ${owner} has wire type ${field.wireType}, expected ${wireType}`,
    );
  }
}

function decodeValue(field: WireField, spec: FieldSchema, owner: string): unknown {
  if (spec.mapOf) {
    expectWireType(field, WireType.LengthDelimited, owner);
    const entry = readFields(field.value as Buffer);
    const key = entry.find((f) => f.number === 1);
    const value = entry.find((f) => f.number === 2);
    const valueSpec = { ...spec, type: spec.mapOf, mapOf: undefined };
    return [
      key ? decodeValue(key, { ...spec, type: 'string', mapOf: undefined }, owner) : '',
      value ? decodeValue(value, valueSpec, owner) : valueSpec.type === 'Quantity' ? '0' : '',
    ];
  }
  switch (spec.type) {
    case 'int':
      expectWireType(field, WireType.Varint, owner);
      return Number(BigInt.asIntN(64, field.value as bigint));
    case 'bool':
      expectWireType(field, WireType.Varint, owner);
      return field.value !== 0n;
    default:
      expectWireType(field, WireType.LengthDelimited, owner);
  }
  const bytes = field.value as Buffer;
  switch (spec.type) {
    case 'string':
      return bytes.toString('utf8');
    case 'bytes':
      return bytes.toString('base64');
    case 'Quantity':
      return decodeMessage(bytes, 'Quantity').string ?? '0';
    case 'Time':
    case 'MicroTime':
      return jsonTime(decodeMessage(bytes, spec.type), spec.type === 'MicroTime');
    case 'IntOrString': {
      const value = decodeMessage(bytes, 'IntOrString');
      return value.type === 1 ? (value.strVal ?? '') : (value.intVal ?? 0);
    }
    default:
      return decodeMessage(bytes, spec.type);
  }
}

/** RFC 3339, as Go marshals a meta/v1 Time (seconds) or MicroTime (microseconds); zero is null. */
function jsonTime(time: Json, micro: boolean): string | null {
  const seconds = (time.seconds as number | undefined) ?? 0;
  const nanos = (time.nanos as number | undefined) ?? 0;
  if (seconds === 0 && nanos === 0) {
    return null;
  }
  const whole = new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, '');
  return micro ? `${whole}.${String(Math.floor(nanos / 1000)).padStart(6, '0')}Z` : `${whole}Z`;
}
