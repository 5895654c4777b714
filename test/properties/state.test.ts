// Property-based tests of the state-file loader and status (fast-check): bounded here, FUZZ_RUNS each under `npm run fuzz`.
import t from 'tap';
import { replayCorpus, runProperty, type PropertyDef } from '../helpers/properties/harness.js';
import { stateProperties } from '../helpers/properties/state.js';

for (const def of stateProperties) t.test(def.name, async (t) => void (await runProperty(t, def as PropertyDef<never>)));
t.test('corpus: every case a property once failed on', async (t) => replayCorpus(t, 'state', stateProperties as unknown as PropertyDef<never>[]));
