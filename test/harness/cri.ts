// CRI RuntimeService/Status over containerd's socket, with the few protobuf fields
// we need decoded by hand: crictl is not available here, and a .proto file plus a
// loader would be more machinery than this one read-only call deserves.
import * as grpc from '@grpc/grpc-js'

export interface CriCondition {
  type: string
  status: boolean
  reason: string
  message: string
}

interface Field {
  num: number
  wire: number
  value: bigint | Buffer
}

function readVarint(buf: Buffer, pos: number): [bigint, number] {
  let result = 0n
  let shift = 0n
  for (;;) {
    const b = buf[pos++]
    if (b === undefined) throw new Error('truncated varint')
    result |= BigInt(b & 0x7f) << shift
    if ((b & 0x80) === 0) return [result, pos]
    shift += 7n
  }
}

/** Split one protobuf message into its top-level fields. */
export function decodeFields(buf: Buffer): Field[] {
  const fields: Field[] = []
  let pos = 0
  while (pos < buf.length) {
    const [tag, p1] = readVarint(buf, pos)
    const num = Number(tag >> 3n)
    const wire = Number(tag & 7n)
    pos = p1
    if (wire === 0) {
      const [v, p2] = readVarint(buf, pos)
      fields.push({ num, wire, value: v })
      pos = p2
    } else if (wire === 2) {
      const [len, p2] = readVarint(buf, pos)
      const end = p2 + Number(len)
      fields.push({ num, wire, value: buf.subarray(p2, end) })
      pos = end
    } else if (wire === 1) {
      pos += 8
    } else if (wire === 5) {
      pos += 4
    } else {
      throw new Error(`unsupported protobuf wire type ${wire}`)
    }
  }
  return fields
}

const bytesOf = (f: Field | undefined) => (f && Buffer.isBuffer(f.value) ? f.value : Buffer.alloc(0))

/** Decode runtime.v1.StatusResponse{status: RuntimeStatus{conditions: [RuntimeCondition]}}. */
export function decodeStatus(buf: Buffer): CriCondition[] {
  const status = bytesOf(decodeFields(buf).find((f) => f.num === 1))
  return decodeFields(status)
    .filter((f) => f.num === 1)
    .map((f) => {
      const cf = decodeFields(bytesOf(f))
      const str = (n: number) => bytesOf(cf.find((x) => x.num === n)).toString()
      const st = cf.find((x) => x.num === 2)
      return { type: str(1), status: st?.value === 1n, reason: str(3), message: str(4) }
    })
}

/** CRI Status conditions from containerd at `socket` (runtime.v1, containerd >= 1.6). */
export function criStatus(socket: string, timeoutMs = 5_000): Promise<CriCondition[]> {
  const client = new grpc.Client(`unix://${socket}`, grpc.credentials.createInsecure())
  return new Promise<CriCondition[]>((resolve, reject) => {
    client.makeUnaryRequest(
      '/runtime.v1.RuntimeService/Status',
      (req: Buffer) => req,
      (res: Buffer) => res,
      Buffer.alloc(0), // StatusRequest{verbose: false} encodes to nothing
      new grpc.Metadata(),
      { deadline: Date.now() + timeoutMs },
      (err, res) => {
        if (err) reject(err)
        else {
          try {
            resolve(decodeStatus(res ?? Buffer.alloc(0)))
          } catch (e) {
            reject(e instanceof Error ? e : new Error(String(e)))
          }
        }
      },
    )
  }).finally(() => client.close())
}

/** Convenience: is the CRI condition `type` (e.g. 'RuntimeReady') true? */
export async function criConditionTrue(socket: string, type: string): Promise<boolean> {
  return (await criStatus(socket)).some((c) => c.type === type && c.status)
}
