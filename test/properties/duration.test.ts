// Property-based tests of the duration parser (fast-check). Each property runs its own number of cases from a fixed
// seed here, FUZZ_RUNS from a random one under `npm run fuzz` (test/helpers/properties/harness.ts).
import t from 'tap';
import { durationProperties } from '../helpers/properties/duration.js';
import { propertySuite, type PropertyDef } from '../helpers/properties/harness.js';

propertySuite(t, durationProperties as unknown as PropertyDef<never>[], ['duration']);
