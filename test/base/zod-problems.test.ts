import t from 'tap';
import { z } from 'zod';
import { formatPath, keysAt, zodProblems } from '../../src/base/zod-problems.js';

const inner = z.strictObject({ images: z.array(z.string()), concurrency: z.int().default(4) });
const schema = z.strictObject({
  a: inner.optional(),
  b: z.array(inner).prefault([]),
  c: z.record(z.string(), inner).nullable().default(null),
  d: z.string().transform((s) => s.length),
  e: inner.superRefine(() => {}).meta({ description: 'x' }),
});

t.test('keysAt finds an object\'s keys through optional, default, prefault, nullable, arrays, records and refinements', async (t) => {
  t.same(keysAt(schema, []), ['a', 'b', 'c', 'd', 'e']);
  t.same(keysAt(schema, ['a']), ['images', 'concurrency']);
  t.same(keysAt(schema, ['b', 3]), ['images', 'concurrency']);
  t.same(keysAt(schema, ['c', 'any-key']), ['images', 'concurrency']);
  t.same(keysAt(schema, ['e']), ['images', 'concurrency']);
  t.same(keysAt(schema, ['d']), [], 'not an object');
  t.same(keysAt(schema, ['nope', 'x']), []);
});

t.test('one message per mistake: a misspelled required key, a plain unknown key, a missing key, a wrong value', async (t) => {
  const input = { a: { image: ['x'] }, b: [{ images: ['y'], concurency: 2 }], e: {}, d: 'x', zz: 1 };
  const r = schema.safeParse(input);
  if (r.success) throw new Error('expected problems');
  const got = zodProblems(r.error, { schema, input, locate: (p) => ({ source: 'S', at: formatPath(p) }) }).map((p) => `${p.at}: ${p.message}`);
  t.same(got.sort(), [
    'a.image: unknown key "image"; did you mean "images"? ("images" is required)',
    'b[0].concurency: unknown key "concurency"; did you mean "concurrency"?',
    'e.images: required key "images" is missing (expected array)',
    'zz: unknown key "zz"',
  ]);
});
