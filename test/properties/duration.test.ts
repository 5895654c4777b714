// Property-based tests of the duration parser (fast-check): bounded here, FUZZ_RUNS each under `npm run fuzz`.
import t from 'tap';
import { durationProperties } from '../helpers/properties/duration.js';
import { replayCorpus, runProperty, type PropertyDef } from '../helpers/properties/harness.js';

for (const def of durationProperties) t.test(def.name, async (t) => void (await runProperty(t, def as PropertyDef<never>)));
t.test('corpus: every case a property once failed on', async (t) => replayCorpus(t, 'duration', durationProperties as unknown as PropertyDef<never>[]));
