// Property-based tests of the tag-value word splitter, the tag grammar and the tags verb (fast-check): bounded
// here, FUZZ_RUNS each under `npm run fuzz`.
import t from 'tap';
import { replayCorpus, runProperty, type PropertyDef } from '../helpers/properties/harness.js';
import { tagProperties, wordProperties } from '../helpers/properties/tags.js';

for (const def of [...wordProperties, ...tagProperties]) t.test(def.name, async (t) => void (await runProperty(t, def as PropertyDef<never>)));
t.test('corpus: words', async (t) => replayCorpus(t, 'words', wordProperties as unknown as PropertyDef<never>[]));
t.test('corpus: tags', async (t) => replayCorpus(t, 'tags', tagProperties as unknown as PropertyDef<never>[]));
