// Property-based tests of every problem message that quotes input (fast-check): line breaks, control and
// invisible characters come back escaped, in one line. Each property runs its own number of cases from a fixed
// seed here, FUZZ_RUNS from a random one under `npm run fuzz` (test/helpers/properties/harness.ts).
import t from 'tap';
import { propertySuite, type PropertyDef } from '../helpers/properties/harness.js';
import { messageProperties } from '../helpers/properties/messages.js';

propertySuite(t, messageProperties as unknown as PropertyDef<never>[], ['messages']);
