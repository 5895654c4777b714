// The property harness itself (test/helpers/properties/harness.ts): `npm test` runs every property with a fixed
// seed, so the same commit gives the same cases every time, and a failure prints what replays it from the log.
// Independent of FUZZ_* in the environment: every run here builds its own mode.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import t from 'tap';
import { splitWords } from '../../src/sources/shell-words.js';
import { ROOT } from '../helpers/cli.js';
import { durationProperties } from '../helpers/properties/duration.js';
import { fixedSeed, forLog, modeFromEnv, runProperty, type PropertyDef, type PropertyOutcome, type RunMode } from '../helpers/properties/harness.js';
import { messageProperties } from '../helpers/properties/messages.js';
import { planProperties } from '../helpers/properties/plan.js';
import { stateProperties } from '../helpers/properties/state.js';
import { tagProperties, wordProperties } from '../helpers/properties/tags.js';
import { userdataProperties } from '../helpers/properties/userdata.js';
import { brokenProperties } from '../fixtures/properties/broken-properties.js';

const corpusDir = mkdtempSync(join(tmpdir(), 'postjoin-harness-corpus-'));
t.teardown(() => rmSync(corpusDir, { recursive: true, force: true }));
const testMode: RunMode = { fuzzRuns: 0, corpusDir };

/** Collects what runProperty tells tap, without failing this test when the property under test fails. */
function recorder() {
  const seen: { ok: boolean; msg: string }[] = [];
  return { seen, ok: (v: unknown, msg: string) => seen.push({ ok: Boolean(v), msg }), fail: (msg: string) => seen.push({ ok: false, msg }) };
}

/** A property's def with its check wrapped to record every input it is given. */
function recording<T>(def: PropertyDef<T>): { def: PropertyDef<T>; inputs: unknown[] } {
  const inputs: unknown[] = [];
  return { inputs, def: { ...def, check: (input: T) => (inputs.push(structuredClone(input)), def.check(input)) } };
}

const every = [...durationProperties, ...messageProperties, ...planProperties, ...stateProperties, ...wordProperties, ...tagProperties, ...userdataProperties] as unknown as PropertyDef<unknown>[];

t.test('the fixed seed is the first 4 bytes of SHA-256("<parser>/<name>"), and no two properties share one', async (t) => {
  for (const def of every) t.equal(fixedSeed(def), createHash('sha256').update(`${def.parser}/${def.name}`).digest().readInt32BE(0), def.name);
  t.equal(new Set(every.map(fixedSeed)).size, every.length, `${every.length} properties, ${every.length} seeds`);
});

t.test('two runs of a property under npm test see the very same cases, from its fixed seed, all `runs` of them', async (t) => {
  const base = durationProperties[2] as unknown as PropertyDef<unknown>;
  const first = recording(base);
  const second = recording(base);
  const a = await runProperty(recorder(), first.def, testMode);
  const b = await runProperty(recorder(), second.def, testMode);
  t.equal(a.seed, fixedSeed(base));
  t.equal(b.seed, a.seed);
  t.equal(first.inputs.length, base.runs, 'every case ran: no time limit cuts a run short');
  t.ok(isDeepStrictEqual(first.inputs, second.inputs), `the same ${first.inputs.length} cases, in the same order`);
  const renamed = recording({ ...base, name: `${base.name} (renamed)` });
  await runProperty(recorder(), renamed.def, testMode);
  t.notOk(isDeepStrictEqual(renamed.inputs, first.inputs), 'another name, another seed, other cases');
});

t.test('npm run fuzz draws a fresh seed and prints it; FUZZ_SEED runs those cases again', async (t) => {
  // That two fuzz runs draw two seeds is not asserted: they could collide (1 in 2^32), and a test here must
  // give the same answer every time.
  const base = { ...(durationProperties[0] as unknown as PropertyDef<unknown>), runs: 20 };
  const rec = recorder();
  const first = recording(base);
  const outcome = await runProperty(rec, first.def, { fuzzRuns: 50, corpusDir });
  t.equal(first.inputs.length, 50, 'FUZZ_RUNS cases, not the property\'s own 20');
  t.match(rec.seen[0]!.msg, `seed ${outcome.seed} (random; FUZZ_SEED=${outcome.seed} runs it again)`);
  const again = recording(base);
  await runProperty(recorder(), again.def, modeFromEnv({ FUZZ_RUNS: '50', FUZZ_SEED: String(outcome.seed), FUZZ_CORPUS_DIR: corpusDir }));
  t.ok(isDeepStrictEqual(again.inputs, first.inputs), 'FUZZ_SEED gives the same cases');
});

t.test('the per-case bound counts CPU time: a case that waits passes, a case that computes past the bound fails', async (t) => {
  // Wide margins both ways: an idle wait of 1 s uses a few ms of CPU (150 is far off), and the spin uses 600.
  const waits: PropertyDef<number> = { parser: 'fixture', name: 'waits', arbitrary: fc.constant(0), runs: 2, maxCaseMs: 150, check: () => new Promise((r) => setTimeout(r, 1000)) };
  const spins: PropertyDef<number> = {
    parser: 'fixture',
    name: 'spins',
    arbitrary: fc.constant(0),
    runs: 1,
    maxCaseMs: 150,
    check() {
      const start = process.cpuUsage();
      for (;;) {
        const used = process.cpuUsage(start);
        if (used.user + used.system > 600_000) return;
      }
    },
  };
  const w = await runProperty(recorder(), waits, testMode);
  t.equal(w.failure, undefined, 'waiting 1 s on a 150 ms bound is no failure: a loaded machine waits, it does not compute');
  const s = await runProperty(recorder(), spins, testMode);
  t.match(s.failure, /one case took \d+ ms of CPU, over the 150 ms bound/);
});

t.test('a failure is logged with its hidden characters escaped: a raw U+2028 or U+0085 breaks the TAP stream itself', async (t) => {
  t.equal(forLog('a\u2028b\u0085c\x1bd\ne'), 'a\\u{2028}b\\u{85}c\\u{1b}d\ne');
});

t.test('FUZZ_PATH without FUZZ_SEED and FUZZ_PROPERTY is refused, naming what is missing', async (t) => {
  t.throws(() => modeFromEnv({ FUZZ_PATH: '1:2' }), /set FUZZ_SEED and FUZZ_PROPERTY too/);
  t.throws(() => modeFromEnv({ FUZZ_SEED: 'abc' }), /FUZZ_SEED=abc is not an integer/);
  t.throws(() => modeFromEnv({ FUZZ_SEED: '1', FUZZ_PROPERTY: 'x', FUZZ_PATH: '1;rm' }), /not a fast-check path/);
});

t.test('a failure prints its seed, path, saved counterexample and a command that replays it', async (t) => {
  const def = brokenProperties[0] as unknown as PropertyDef<unknown>;
  const rec = recorder();
  const out: PropertyOutcome = await runProperty(rec, def, testMode, 'test/fixtures/properties/broken.test.ts');
  const msg = rec.seen[0]!.msg;
  t.notOk(rec.seen[0]!.ok);
  t.match(msg, `seed ${fixedSeed(def)}, path ${/path (\S+);/.exec(msg)?.[1]}`);
  t.ok(out.savedAs && existsSync(out.savedAs), `saved as ${out.savedAs}`);
  t.match(msg, `the counterexample is saved as ${out.savedAs}`);
  t.match(msg, `replay it: ${out.replay}`);
  // The command, read as a shell reads it: FUZZ_* assignments, then npx tap on the file.
  const words = splitWords(out.replay!);
  if (!words.ok) throw new Error(words.message);
  const env = Object.fromEntries(words.words.filter((w) => /^FUZZ_\w+=/.test(w)).map((w) => [w.slice(0, w.indexOf('=')), w.slice(w.indexOf('=') + 1)]));
  t.same(Object.keys(env), ['FUZZ_SEED', 'FUZZ_PATH', 'FUZZ_PROPERTY']);
  t.equal(env.FUZZ_PROPERTY, def.name);
  t.same(words.words.slice(3), ['npx', 'tap', '--disable-coverage', 'test/fixtures/properties/broken.test.ts']);
  const replayed = recording(def);
  const again = await runProperty(recorder(), replayed.def, modeFromEnv({ ...env, FUZZ_CORPUS_DIR: corpusDir }));
  t.same(replayed.inputs[0], JSON.parse(readFileSync(out.savedAs!, 'utf8')).input, 'the first case replayed is the saved counterexample');
  t.equal(again.failure, out.failure, 'it fails the same way');
  t.equal(again.savedAs, out.savedAs, 'and is the same counterexample');
});

/**
 * A project root of its own for a tap run inside this one: tap starts by deleting <project root>/.tap/coverage, which
 * in ROOT would throw away the coverage of every test file that ran before this one (seen: src/ fell to 89%).
 * The same package.json, and ROOT's test/, src/ and node_modules/ through symlinks, so the command runs as printed.
 */
function ownProjectRoot(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'postjoin-nested-tap-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'package.json'), readFileSync(join(ROOT, 'package.json')));
  for (const name of ['test', 'src', 'node_modules']) symlinkSync(join(ROOT, name), join(dir, name));
  return dir;
}

t.test('the printed command works as printed: run in a shell, it replays the same failure in a tap process', async (t) => {
  const env: NodeJS.ProcessEnv = { ...process.env, FUZZ_CORPUS_DIR: corpusDir };
  for (const k of ['FUZZ_RUNS', 'FUZZ_SEED', 'FUZZ_PATH', 'FUZZ_PROPERTY', 'FUZZ_REPORT']) delete env[k];
  const cwd = ownProjectRoot(t);
  const first = spawnSync('npx', ['tap', '--disable-coverage', 'test/fixtures/properties/broken.test.ts'], { cwd, env, encoding: 'utf8', timeout: 120_000 });
  t.not(first.status, 0, 'the broken property fails');
  const command = /replay it: (.+)$/m.exec(first.stdout)?.[1];
  if (!command) return t.fail(`no replay command in the log:\n${first.stdout.slice(0, 3000)}`);
  const failure = (s: string) => /not ok 1 - fixture: (.+?) seed /.exec(s)?.[1];
  t.ok(failure(first.stdout), 'the failure is in the log');
  const replay = spawnSync('bash', ['-c', command], { cwd, env, encoding: 'utf8', timeout: 120_000 });
  t.not(replay.status, 0);
  t.equal(failure(replay.stdout), failure(first.stdout), 'the same counterexample, the same failure');
  t.match(replay.stdout, /ok 2 - a property that holds: .* # SKIP FUZZ_PROPERTY names another property/, 'only the named property ran');
});
