// The hand-written protobuf subset, checked against bytes protoc's encoding rules give for the same messages.
import t from 'tap';
import { ProtoMessage, boolField, bytesField, messageField, repeatedStringField, stringField, stringMapField } from '../../../src/host/containerd/protobuf-wire.js';

t.test('encodes like protoc: tags, lengths, proto3 defaults left off', async (t) => {
  // PullImageRequest{image: ImageSpec{image: "a"}} is 0a 03 0a 01 61.
  t.same([...messageField(1, [stringField(1, 'a')])], [0x0a, 0x03, 0x0a, 0x01, 0x61]);
  t.same([...stringField(4, '')], [], 'an empty string is not sent');
  t.same([...boolField(2, false)], []);
  t.same([...boolField(2, true)], [0x10, 0x01]);
  t.same([...messageField(3, undefined)], []);
  t.same([...messageField(3, [])], [0x1a, 0x00], 'an empty message is still present');
  // A 300-byte string needs a two-byte length varint (ac 02).
  t.same([...bytesField(1, Buffer.alloc(300)).subarray(0, 3)], [0x0a, 0xac, 0x02]);
  t.same([...stringField(16, 'x').subarray(0, 2)], [0x82, 0x01], 'field 16 needs a two-byte tag');
});

t.test('decodes what it encodes, repeated fields and maps included', async (t) => {
  const image = Buffer.concat([
    stringField(1, 'sha256:abc'),
    repeatedStringField(2, ['r/a:1', 'r/a:2']),
    repeatedStringField(3, ['r/a@sha256:def']),
    Buffer.from([0x20, 0xe8, 0x07]), // size: 1000
    boolField(8, true),
    stringMapField(9, { k: 'v', 'io.cri-containerd.pinned': 'pinned' }),
  ]);
  const m = new ProtoMessage(messageField(1, [image])).message(1);
  t.ok(m);
  t.equal(m?.string(1), 'sha256:abc');
  t.same(m?.strings(2), ['r/a:1', 'r/a:2']);
  t.same(m?.strings(3), ['r/a@sha256:def']);
  t.equal(m?.uint(4), 1000);
  t.equal(m?.bool(8), true);
  t.same(m?.stringMap(9), { k: 'v', 'io.cri-containerd.pinned': 'pinned' });
  t.equal(m?.has(5), false);
  t.equal(m?.string(5), '', 'absent reads as the proto3 default');
  t.equal(m?.uint(5), 0);
  t.equal(m?.message(6), undefined);
});

t.test('skips fields it does not know, of every wire type; refuses garbage', async (t) => {
  const known = stringField(1, 'kept');
  const fixed64 = Buffer.from([0x11, 1, 2, 3, 4, 5, 6, 7, 8]); // field 2, wire type 1
  const fixed32 = Buffer.from([0x1d, 1, 2, 3, 4]); // field 3, wire type 5
  const bigVarint = Buffer.from([0x20, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]); // -1 as int64
  const m = new ProtoMessage(Buffer.concat([fixed64, known, fixed32, bigVarint]));
  t.equal(m.string(1), 'kept');
  t.ok(m.uint(4) > 2 ** 63, 'a ten-byte varint decodes');
  t.throws(() => new ProtoMessage(Buffer.from([0x0a, 0x05, 0x61])), /runs past the end/);
  t.throws(() => new ProtoMessage(Buffer.from([0x0b])), /wire type 3/);
  t.throws(() => new ProtoMessage(Buffer.from([0x08, 0x80])), /bad varint/);
  t.throws(() => new ProtoMessage(Buffer.from([0x09, 1, 2])), /truncated/);
});
