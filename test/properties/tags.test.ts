// Property-based tests of the tag-value word splitter, the tag grammar and the tags verb (fast-check). Each property
// runs its own number of cases from a fixed seed here, FUZZ_RUNS from a random one under `npm run fuzz`.
import t from 'tap';
import { propertySuite, type PropertyDef } from '../helpers/properties/harness.js';
import { tagProperties, wordProperties } from '../helpers/properties/tags.js';

propertySuite(t, [...wordProperties, ...tagProperties] as unknown as PropertyDef<never>[], ['words', 'tags']);
