// Property-based tests of the state-file loader and status (fast-check). Each property runs its own number of cases
// from a fixed seed here, FUZZ_RUNS from a random one under `npm run fuzz` (test/helpers/properties/harness.ts).
import t from 'tap';
import { propertySuite, type PropertyDef } from '../helpers/properties/harness.js';
import { stateProperties } from '../helpers/properties/state.js';

propertySuite(t, stateProperties as unknown as PropertyDef<never>[], ['state']);
