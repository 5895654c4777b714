// Property-based tests of the task schema and plan builder (fast-check): bounded here, FUZZ_RUNS each under `npm run fuzz`.
import t from 'tap';
import { replayCorpus, runProperty, type PropertyDef } from '../helpers/properties/harness.js';
import { planProperties } from '../helpers/properties/plan.js';

for (const def of planProperties) t.test(def.name, async (t) => void (await runProperty(t, def as PropertyDef<never>)));
t.test('corpus: every case a property once failed on', async (t) => replayCorpus(t, 'plan', planProperties as unknown as PropertyDef<never>[]));
