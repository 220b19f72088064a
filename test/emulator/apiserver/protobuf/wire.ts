/** Protobuf's wire format: a message is a run of (field number, wire type, value) records. */

export const WireType = { Varint: 0, Fixed64: 1, LengthDelimited: 2, Fixed32: 5 } as const;
export type WireType = (typeof WireType)[keyof typeof WireType];

export interface WireField {
  number: number;
  wireType: WireType;
  /** The integer of a varint field, the bytes of a length-delimited one (fixed fields are skipped). */
  value: bigint | Buffer;
}

/** A body that is not well-formed protobuf. */
export class MalformedProtobuf extends Error {}

function readVarint(buffer: Buffer, start: number): [bigint, number] {
  let value = 0n;
  let shift = 0n;
  for (let offset = start; offset < buffer.length && offset - start < 10; offset++) {
    const byte = buffer[offset]!;
    value |= BigInt(byte & 0x7f) << shift;
    if ((byte & 0x80) === 0) {
      return [value, offset + 1];
    }
    shift += 7n;
  }
  throw new MalformedProtobuf(`truncated or overlong varint at byte ${start}`);
}

/** Every field of one message, in order; repeated fields appear once per element. */
export function readFields(buffer: Buffer): WireField[] {
  const fields: WireField[] = [];
  let offset = 0;
  while (offset < buffer.length) {
    const [key, afterKey] = readVarint(buffer, offset);
    const number = Number(key >> 3n);
    const wireType = Number(key & 7n);
    if (number === 0) {
      throw new MalformedProtobuf(`field number 0 at byte ${offset}`);
    }
    offset = afterKey;
    switch (wireType) {
      case WireType.Varint: {
        const [value, next] = readVarint(buffer, offset);
        fields.push({ number, wireType: WireType.Varint, value });
        offset = next;
        break;
      }
      case WireType.LengthDelimited: {
        const [length, start] = readVarint(buffer, offset);
        const end = start + Number(length);
        if (end > buffer.length) {
          throw new MalformedProtobuf(
            `field ${number} claims ${length} bytes, only ${buffer.length - start} remain`,
          );
        }
        fields.push({
          number,
          wireType: WireType.LengthDelimited,
          value: buffer.subarray(start, end),
        });
        offset = end;
        break;
      }
      case WireType.Fixed64:
      case WireType.Fixed32:
        offset += wireType === WireType.Fixed64 ? 8 : 4;
        if (offset > buffer.length) {
          throw new MalformedProtobuf(`field ${number} is truncated`);
        }
        break;
      default:
        throw new MalformedProtobuf(`field ${number} has unsupported wire type ${wireType}`);
    }
  }
  return fields;
}
