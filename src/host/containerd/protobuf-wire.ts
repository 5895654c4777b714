/**
 * Just enough of the protobuf wire format for the few CRI and containerd messages postjoin sends and reads.
 * protobufjs or proto-loader would need .proto files (or generated code ten times this size) inside a one-file
 * bundle; these messages are small and stable, and unknown fields are skipped, so newer servers still parse.
 */

const WIRE_VARINT = 0;
const WIRE_I64 = 1;
const WIRE_LEN = 2;
const WIRE_I32 = 5;

function varint(value: number | bigint): Buffer {
  let v = BigInt(value);
  if (v < 0n) v &= 0xffff_ffff_ffff_ffffn; // negative int64 is ten bytes of two's complement
  const out: number[] = [];
  do {
    const low = Number(v & 0x7fn);
    v >>= 7n;
    out.push(v > 0n ? low | 0x80 : low);
  } while (v > 0n);
  return Buffer.from(out);
}

const tag = (num: number, wire: number) => varint((num << 3) | wire);

/** A length-delimited field: a string, bytes or an embedded message. */
export function bytesField(num: number, value: Buffer): Buffer {
  return Buffer.concat([tag(num, WIRE_LEN), varint(value.length), value]);
}

/** proto3 leaves default values off the wire; so do we, which keeps requests byte-identical to Go's. */
export function stringField(num: number, value: string | undefined): Buffer {
  return value ? bytesField(num, Buffer.from(value, 'utf8')) : Buffer.alloc(0);
}

export function boolField(num: number, value: boolean | undefined): Buffer {
  return value ? Buffer.concat([tag(num, WIRE_VARINT), varint(1)]) : Buffer.alloc(0);
}

export function messageField(num: number, parts: Buffer[] | undefined): Buffer {
  return parts === undefined ? Buffer.alloc(0) : bytesField(num, Buffer.concat(parts));
}

export function repeatedStringField(num: number, values: readonly string[]): Buffer {
  return Buffer.concat(values.map((v) => bytesField(num, Buffer.from(v, 'utf8'))));
}

/** `map<string,string>` is a repeated entry message {1: key, 2: value}. */
export function stringMapField(num: number, map: Readonly<Record<string, string>>): Buffer {
  return Buffer.concat(Object.entries(map).map(([k, v]) => messageField(num, [stringField(1, k), stringField(2, v)])));
}

interface Field {
  num: number;
  wire: number;
  int?: bigint;
  bytes?: Buffer;
}

function readVarint(buf: Buffer, pos: number): [bigint, number] {
  let result = 0n;
  let shift = 0n;
  for (;;) {
    if (pos >= buf.length || shift > 63n) throw new Error('malformed protobuf: bad varint');
    const b = buf[pos++] as number;
    result |= BigInt(b & 0x7f) << shift;
    if ((b & 0x80) === 0) return [result, pos];
    shift += 7n;
  }
}

function splitFields(buf: Buffer): Field[] {
  const fields: Field[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const [key, afterKey] = readVarint(buf, pos);
    const num = Number(key >> 3n);
    const wire = Number(key & 7n);
    pos = afterKey;
    if (wire === WIRE_VARINT) {
      const [v, next] = readVarint(buf, pos);
      fields.push({ num, wire, int: v });
      pos = next;
    } else if (wire === WIRE_LEN) {
      const [len, start] = readVarint(buf, pos);
      const end = start + Number(len);
      if (end > buf.length) throw new Error('malformed protobuf: field runs past the end');
      fields.push({ num, wire, bytes: buf.subarray(start, end) });
      pos = end;
    } else if (wire === WIRE_I64 || wire === WIRE_I32) {
      pos += wire === WIRE_I64 ? 8 : 4;
    } else {
      throw new Error(`malformed protobuf: wire type ${wire}`);
    }
  }
  if (pos !== buf.length) throw new Error('malformed protobuf: truncated field');
  return fields;
}

/** A decoded message, read by field number. Absent fields read as proto3 defaults. */
export class ProtoMessage {
  private readonly fields: Field[];

  constructor(buf: Buffer) {
    this.fields = splitFields(buf);
  }

  private all(num: number): Field[] {
    return this.fields.filter((f) => f.num === num);
  }

  has(num: number): boolean {
    return this.fields.some((f) => f.num === num);
  }

  string(num: number): string {
    return this.strings(num).at(-1) ?? '';
  }

  strings(num: number): string[] {
    return this.all(num).flatMap((f) => (f.bytes ? [f.bytes.toString('utf8')] : []));
  }

  bool(num: number): boolean {
    return this.uint(num) !== 0;
  }

  /** uint64/int64 as a number: sizes and counts stay far below 2^53. */
  uint(num: number): number {
    const f = this.all(num).at(-1);
    return f?.int === undefined ? 0 : Number(f.int);
  }

  message(num: number): ProtoMessage | undefined {
    return this.messages(num).at(-1);
  }

  messages(num: number): ProtoMessage[] {
    return this.all(num).flatMap((f) => (f.bytes ? [new ProtoMessage(f.bytes)] : []));
  }

  stringMap(num: number): Record<string, string> {
    const out: Record<string, string> = {};
    for (const entry of this.messages(num)) out[entry.string(1)] = entry.string(2);
    return out;
  }
}
