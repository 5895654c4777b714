// kubectl sends some requests as protobuf (`auth can-i` posts a SelfSubjectAccessReview that way), so the stand-in
// reads just that: the "k8s\0" envelope (runtime.Unknown) and the fields of the review's spec. Answers stay JSON,
// which kubectl also accepts.
type Fields = Map<number, (Buffer | number)[]>;

function fields(buf: Buffer): Fields {
  const out: Fields = new Map();
  let i = 0;
  const varint = () => {
    let v = 0;
    for (let shift = 0; ; shift += 7) {
      const b = buf[i++]!;
      v += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return v;
    }
  };
  while (i < buf.length) {
    const key = varint();
    const [field, wire] = [Math.floor(key / 8), key & 7];
    let value: Buffer | number;
    if (wire === 0) value = varint();
    else if (wire === 2) {
      const len = varint();
      value = buf.subarray(i, i + len);
      i += len;
    } else throw new Error(`protobuf wire type ${wire} is not used by the messages read here`);
    out.set(field, [...(out.get(field) ?? []), value]);
  }
  return out;
}

const str = (f: Fields, n: number) => (f.get(n)?.[0] as Buffer | undefined)?.toString('utf8') ?? '';
const sub = (f: Fields, n: number) => fields((f.get(n)?.[0] as Buffer | undefined) ?? Buffer.alloc(0));

/** The spec of a protobuf SelfSubjectAccessReview, in its JSON shape. */
export function accessReviewSpec(body: Buffer): Record<string, unknown> {
  if (body.subarray(0, 4).toString('latin1') !== 'k8s\u0000') throw new Error('not a Kubernetes protobuf envelope');
  const review = sub(fields(body.subarray(4)), 2); // runtime.Unknown: 1 typeMeta, 2 raw
  const spec = sub(review, 2);
  if (spec.has(1)) {
    const ra = sub(spec, 1);
    const names = ['namespace', 'verb', 'group', 'version', 'resource', 'subresource', 'name'];
    return { resourceAttributes: Object.fromEntries(names.map((k, j) => [k, str(ra, j + 1)])) };
  }
  const nra = sub(spec, 2);
  return { nonResourceAttributes: { path: str(nra, 1), verb: str(nra, 2) } };
}
