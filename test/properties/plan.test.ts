// Property-based tests of the task schema and plan builder (fast-check). Each property runs its own number of cases
// from a fixed seed here, FUZZ_RUNS from a random one under `npm run fuzz` (test/helpers/properties/harness.ts).
import t from 'tap';
import { propertySuite, type PropertyDef } from '../helpers/properties/harness.js';
import { planProperties } from '../helpers/properties/plan.js';

propertySuite(t, planProperties as unknown as PropertyDef<never>[], ['plan']);
