// Properties of the tag-value word splitter (src/sources/shell-words.ts), the tag grammar (tag-grammar.ts), and
// the `tags` verb's compiler (tag-compile.ts) with the tags source reading its output back.
import { spawnSync } from 'node:child_process';
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { agentConfigSchema, toAgentConfig } from '../../../src/config/agent-config.js';
import { buildPlan } from '../../../src/plan/build-plan.js';
import { isGroup } from '../../../src/plan/task.js';
import { tasksFromText } from '../../../src/plan/task-document.js';
import { byteOrder } from '../../../src/sources/file-source.js';
import { joinWords, splitWords } from '../../../src/sources/shell-words.js';
import { compileTags } from '../../../src/writers/tag-compile.js';
import { ENABLED_KEY, TAG_KEY_CHARS, TAG_KEY_MAX, TAG_VALUE_MAX, taskFromTagValue, tasksFromTags } from '../../../src/sources/tag-grammar.js';
import { findUnusualCharacter } from '../../../src/sources/unusual-characters.js';
import { everyKindPolicy } from '../../../src/config/agent-config.js';
import { fail, onlyInvalidInput, unshown } from './checks.js';
import type { PropertyDef } from './harness.js';
import { kindSpecs, spell, spelling, taskDocument, taskList, text, type KindSpecs, type Spelling, type TaskObject } from './tasks.js';

const defaultPolicy = () => toAgentConfig(agentConfigSchema.parse({}), '(built-in)').policy;
/** A node that lets tags do everything a tag can say: every kind, and any unit (a unit task from tags needs policy.units). */
const permissiveNodePolicy = () => ({ ...everyKindPolicy(), units: ['*'] });

// ---- words --------------------------------------------------------------------------------------------

/** Tag values near the grammar: words, quotes of both kinds, backslashes, blanks, shell metacharacters. */
const wordsy = fc.string({ unit: fc.constantFrom(...'ab1 \t\n\r\'"\\;|&$()`*?#~<>'.split(''), 'é', '中'), maxLength: 40 });

/** For the comparison with bash: only what bash and our splitter treat alike (no expansion characters, no newline). */
const bashSafe = fc.string({ unit: fc.constantFrom(...'ab1 \t\'"\\'.split('')), maxLength: 24 });

let bashMissing: boolean | undefined;
/**
 * How bash splits each input into words: `eval "set -- $IN"` for each input, read NUL-separated from stdin, in
 * one bash process for the whole batch (eval, so that a trailing backslash is the input's own last character).
 */
function bashWords(inputs: string[]): (string[] | undefined)[] {
  const script = `while IFS= read -r -d '' IN; do eval "set -- $IN"; for w in "$@"; do printf '%s\\0' "$w"; done; printf '\\1'; done`;
  const r = spawnSync('bash', ['--norc', '--noprofile', '-c', script], { input: inputs.map((s) => `${s}\0`).join(''), encoding: 'latin1', env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C' } });
  if (r.error) {
    bashMissing = true;
    return inputs.map(() => undefined);
  }
  return r.stdout.split('\x01').slice(0, inputs.length).map((chunk) => (chunk === '' ? [] : chunk.slice(0, -1).split('\0')));
}

export const wordProperties = [
  {
    parser: 'words',
    name: 'splitWords never throws; an unterminated quote is refused naming its character position',
    arbitrary: fc.oneof(wordsy, fc.string({ maxLength: 60 }), fc.string({ unit: 'binary', maxLength: 60 })),
    runs: 3000,
    check(input: string) {
      const r = splitWords(input);
      if (r.ok) {
        if (r.words.some((w) => typeof w !== 'string')) fail('a word that is not a string');
        return;
      }
      const m = /^unterminated (single|double) quote at character (\d+)$/.exec(r.message);
      if (!m) fail(`refused with ${JSON.stringify(r.message)}`);
      const at = Number(m[2]) - 1;
      if (input[at] !== (m[1] === 'single' ? "'" : '"')) fail(`character ${at + 1} of ${JSON.stringify(input)} is not the ${m[1]} quote`);
    },
  } satisfies PropertyDef<string>,
  {
    parser: 'words',
    name: 'joinWords then splitWords gives back any list of words, whatever characters they hold',
    arbitrary: fc.array(fc.oneof(text(12), fc.string({ maxLength: 8 }), fc.constant('')), { maxLength: 6 }),
    runs: 3000,
    check(words: string[]) {
      const r = splitWords(joinWords(words));
      if (!r.ok || !isDeepStrictEqual(r.words, words)) fail(`${JSON.stringify(words)} → ${JSON.stringify(joinWords(words))} → ${JSON.stringify(r)}`);
    },
  } satisfies PropertyDef<string[]>,
  {
    parser: 'words',
    name: 'words are split as bash splits them (checked against bash itself, in batches of 100)',
    arbitrary: fc.array(bashSafe, { minLength: 100, maxLength: 100 }),
    runs: 20,
    casesPerRun: 100,
    maxCaseMs: 10_000,
    check(inputs: string[]) {
      const ours = inputs.map(splitWords);
      const ok = inputs.filter((_, i) => ours[i]!.ok);
      const theirs = bashWords(ok);
      if (bashMissing) return;
      let j = 0;
      inputs.forEach((input, i) => {
        const o = ours[i]!;
        if (!o.ok) return;
        const b = theirs[j++];
        if (!isDeepStrictEqual(o.words, b)) fail(`${JSON.stringify(input)}: ours ${JSON.stringify(o.words)}, bash ${JSON.stringify(b)}`);
      });
    },
  } satisfies PropertyDef<string[]>,
] as const;

// ---- the tag grammar ----------------------------------------------------------------------------------------

const tagKey = fc.oneof(
  fc.stringMatching(/^postjoin:[A-Za-z0-9][A-Za-z0-9._-]{0,20}$/),
  fc.constantFrom(ENABLED_KEY, 'Name', 'eks:cluster-name', 'aws:autoscaling:groupName', 'postjoin:', 'postjoin:-x', 'postjoin:a/b', 'Postjoin:x'),
  fc.string({ maxLength: 20 }).map((s) => `postjoin:${s}`),
);
const tagValue = fc.oneof(
  fc.tuple(fc.constantFrom('pull', 'unit', 'wait', 'exec', 'script', 'Pull', '', 'file'), fc.array(fc.oneof(text(10), fc.constantFrom('url', 'file', 'unit', 'start', 'http://127.0.0.1:1/', '/x', 'a.service', 'ZWNobyBoaQ==', 'public.ecr.aws/x/y:1')), { maxLength: 4 })).map(([k, a]) => joinWords([k, ...a])),
  wordsy,
  fc.constantFrom('false', 'FALSE', 'true', ' false '),
);
export const tagMap = fc.array(fc.tuple(tagKey, tagValue), { maxLength: 8 }).map((e) => new Map(e));

/**
 * Exec tasks whose arguments hold everything a shell would act on. Words a tag value may not hold (a no-break
 * space, an invisible or a control character) are left out: their refusal has a property of its own below.
 */
const hostileExec = fc.tuple(
  fc.stringMatching(/^[a-z0-9]{1,8}$/),
  fc.array(fc.oneof(text(10), fc.constantFrom('; rm -rf /', '$(reboot)', '`id`', '&& curl x | sh', '>/etc/passwd', '*', '~root', '$HOME', '"', "'", '\\')).filter((w) => !findUnusualCharacter(w)), { minLength: 1, maxLength: 5 }),
);

/** Characters that look like a space or a line break but are not one, invisible ones, and control characters. */
const unusualChar = fc.oneof(
  fc.constantFrom('\u00a0', '\u2007', '\u202f', '\u3000', '\u1680', '\u2028', '\u2029', '\u0085', '\u000b', '\u000c', '\u200b', '\u200c', '\u200d', '\u2060', '\ufeff', '\u00ad', '\u202e', '\u2066', '\u180e', '\u3164', '\u2800', '\u0000', '\u001b', '\u007f', '\u009b', '\ud800'),
  fc.integer({ min: 0x2000, max: 0x200f }).map((c) => String.fromCodePoint(c)),
  fc.integer({ min: 0x0001, max: 0x001f }).filter((c) => c !== 0x09 && c !== 0x0a && c !== 0x0d).map((c) => String.fromCodePoint(c)),
);

/** Every string in a raw task spec, however deep. */
const stringsIn = (v: unknown): string[] => (typeof v === 'string' ? [v] : v && typeof v === 'object' ? Object.values(v).flatMap(stringsIn) : []);

// ---- the tags verb and its round trip --------------------------------------------------------------------------

const tagCommon = fc.constantFrom<Record<string, unknown>>({}, { timeout: '10m' }, { retries: 0, once: true, onFailure: 'abort' });
/** Only what the grammar has words for (no pull.concurrency, no wait.interval: the compiler rightly refuses those). */
const tagSpecs: KindSpecs = {
  pull: kindSpecs.pull.map((p) => ({ images: p.images })),
  wait: kindSpecs.wait.map((w) => Object.fromEntries(Object.entries(w).filter(([k]) => k !== 'interval'))),
};
const tagTasks = taskList({ kinds: ['pull', 'unit', 'wait', 'exec', 'script'], common: tagCommon, specs: tagSpecs, maxTasks: 6 });

interface TagsCase {
  tasks: TaskObject[];
  spelling: Spelling;
  /** Prefix every name with digits and "-" (kept by the compiler) or none (the compiler numbers them). */
  numbered: boolean;
  other: [string, string][];
}

export const tagsCase: fc.Arbitrary<TagsCase> = fc.record({
  tasks: tagTasks,
  spelling,
  numbered: fc.boolean(),
  other: fc.array(fc.tuple(fc.constantFrom('Name', 'eks:nodegroup-name', 'kubernetes.io/cluster/x', 'aws:ec2launchtemplate:id'), text(10)), { maxLength: 3 }),
});

export const tagProperties = [
  {
    parser: 'tags',
    name: 'any tags give tasks or problems naming their tag key, and the plan builder then gives a plan or InvalidInput',
    arbitrary: tagMap,
    runs: 2000,
    check(tags: Map<string, string>) {
      const out = tasksFromTags(tags);
      if (!out.enabled) {
        if (tags.get(ENABLED_KEY)?.trim().toLowerCase() !== 'false') fail('switched off without postjoin:enabled=false');
        return;
      }
      for (const p of out.problems) {
        // A key with a line break or a hidden character is named shown escaped (and a long one cut).
        const names = (k: string) => p.source === `tag:${k}` || ((unshown(k) !== undefined || k.length > 140) && p.source.startsWith('tag:postjoin:'));
        if (![...tags.keys()].some(names)) fail(`a problem that does not name a tag key: ${JSON.stringify(p)}`);
        const hidden = unshown(p.source) ?? unshown(p.message);
        if (hidden) fail(`a problem holds ${hidden} as is (one journal line each, every character visible): ${JSON.stringify(p)}`);
      }
      const keys = out.tasks.map((t) => t.origin.slice(4));
      if (!isDeepStrictEqual(keys, [...keys].sort(byteOrder))) fail(`tasks not in byte-wise key order: ${keys.join(', ')}`);
      for (const policy of [defaultPolicy(), everyKindPolicy()]) onlyInvalidInput(() => buildPlan(out.tasks, policy), 'tag:postjoin:');
    },
  } satisfies PropertyDef<Map<string, string>>,
  {
    parser: 'tags',
    name: 'the default policy refuses every exec and script tag, naming its key; with the policy allowing them, the words reach argv verbatim',
    arbitrary: fc.tuple(hostileExec, fc.boolean()),
    runs: 2000,
    check([[name, argv], asScript]: [[string, string[]], boolean]) {
      const key = `postjoin:${name}`;
      const body = argv.join(' ') || 'true';
      const value = asScript ? joinWords(['script', Buffer.from(body).toString('base64')]) : joinWords(['exec', `/usr/bin/${name}`, ...argv]);
      const out = tasksFromTags(new Map([[key, value]]));
      if (!out.enabled || out.problems.length > 0) fail(`the tag did not parse: ${JSON.stringify(out)}`);
      const refused = onlyInvalidInput(() => buildPlan(out.tasks, defaultPolicy()), 'tag:postjoin:');
      if (refused.ok) fail(`the default policy let ${asScript ? 'script' : 'exec'} through from a tag`);
      if (!refused.err.problems.some((p) => p.source === `tag:${key}` && /is not allowed from source "tags"/.test(p.message))) fail(`the denial does not name the tag: ${refused.err.message}`);
      const allowed = buildPlan(out.tasks, everyKindPolicy());
      const task = allowed.steps[0]!;
      if (isGroup(task)) fail('a group from a tag');
      const spec = task.spec as { command?: string; args?: string[] } | string;
      if (asScript) {
        if (spec !== body) fail(`script body changed: ${JSON.stringify(spec)}`);
      } else if (typeof spec === 'string' || spec.command !== `/usr/bin/${name}` || !isDeepStrictEqual(spec.args, argv)) fail(`argv changed: ${JSON.stringify(spec)} vs ${JSON.stringify(argv)}`);
    },
  } satisfies PropertyDef<[[string, string[]], boolean]>,
  {
    parser: 'tags',
    name: 'the tags verb then the tags source give the task file\'s own plan (names with their order prefix), within EC2\'s limits',
    arbitrary: tagsCase,
    runs: 400,
    check(c: TagsCase) {
      const tasks = c.numbered ? c.tasks.map((t, i) => ({ ...t, name: `${(i + 1) * 10}-${t.name}`.slice(0, 63) })) : c.tasks;
      const label = `file:/tmp/tasks.${c.spelling.format}`;
      const fileText = spell(taskDocument(tasks), c.spelling.format === 'json' ? { ...c.spelling, bom: false } : c.spelling);
      const read = onlyInvalidInput(() => {
        const sourced = tasksFromText(fileText, c.spelling.format, label, 'file');
        return { sourced, plan: buildPlan(sourced, everyKindPolicy()) };
      }, label);
      if (!read.ok) return; // e.g. a spelling the yaml library cannot read back; the plan properties cover that
      const { tags, problems } = compileTags(read.value.sourced, read.value.plan, label);
      for (const p of problems) if (!p.source.startsWith('file:/tmp/tasks.')) fail(`a refusal that does not name the file: ${JSON.stringify(p)}`);
      if (problems.length > 0) {
        // What the grammar may rightly refuse: a value past 256 characters, or a script whose body does not survive.
        const fits = read.value.plan.steps.every((s) => !isGroup(s) && [...JSON.stringify(s.spec)].length < TAG_VALUE_MAX / 2);
        const why = problems.map((p) => p.message).join('; ');
        // A word with a no-break space, an invisible or a control character: the grammar refuses those.
        const unusual = read.value.sourced.some((st) => stringsIn(st.raw).some((w) => findUnusualCharacter(w)));
        if (/which a tag value may not hold/.test(why) && !unusual) fail(`refused a character that is not unusual: ${why}`);
        if (fits && !unusual && !/characters; EC2 allows|order of their keys|number every task/.test(why)) fail(`refused tasks that tags can express: ${why}`);
        return;
      }
      for (const t of tags) {
        if (t.Key.length > TAG_KEY_MAX || !TAG_KEY_CHARS.test(t.Key)) fail(`key ${JSON.stringify(t.Key)} breaks IMDS's rule`);
        if ([...t.Value].length > TAG_VALUE_MAX) fail(`value of ${t.Key} is ${[...t.Value].length} characters`);
      }
      const onNode = tasksFromTags(new Map([...c.other, ...tags.map((t) => [t.Key, t.Value] as [string, string])]));
      if (!onNode.enabled || onNode.problems.length > 0) fail(`the node refuses the tags: ${JSON.stringify(onNode)}`);
      const nodePlan = buildPlan(onNode.tasks, permissiveNodePolicy());
      const want = read.value.plan.steps.map((s) => (isGroup(s) ? undefined : { kind: s.kind, spec: s.spec, hash: s.hash }));
      const got = nodePlan.steps.map((s) => (isGroup(s) ? undefined : { kind: s.kind, spec: s.spec, hash: s.hash }));
      if (!isDeepStrictEqual(got, want)) fail(`the node's plan differs:\n${JSON.stringify(got)}\n${JSON.stringify(want)}`);
      nodePlan.steps.forEach((s, i) => {
        const orig = read.value.plan.steps[i]!.name;
        if (s.name !== orig && !s.name.endsWith(`-${orig}`)) fail(`task ${i} is named ${s.name}, from ${orig}`);
      });
    },
  } satisfies PropertyDef<TagsCase>,
  {
    parser: 'tags',
    name: 'a tag value holding an unusual character (no-break space, invisible, control) is refused naming its code point and position',
    arbitrary: fc.tuple(tagValue, unusualChar, fc.nat()),
    runs: 2000,
    check([value, c, at]: [string, string, number]) {
      const chars = [...value];
      const where = at % (chars.length + 1);
      const input = [...chars.slice(0, where), c, ...chars.slice(where)].join('');
      const r = taskFromTagValue('a', input);
      if (typeof r !== 'string') return fail(`accepted ${JSON.stringify(input)} as ${JSON.stringify(r)}`);
      const m = /^character (\d+) is U\+([0-9A-F]{4,6})\b/.exec(r);
      if (!m) return fail(`refused ${JSON.stringify(input)} without naming the character: ${JSON.stringify(r)}`);
      const named = [...input][Number(m[1]) - 1];
      if (named?.codePointAt(0) !== parseInt(m[2]!, 16)) fail(`character ${m[1]} of ${JSON.stringify(input)} is not U+${m[2]}`);
      if (Number(m[1]) > where + 1) fail(`named character ${m[1]}, after the one at ${where + 1}`);
      if (/^[\x20-\x7e\t\n\r]$/.test(named ?? '')) fail(`named an ordinary character ${JSON.stringify(named)}`);
    },
  } satisfies PropertyDef<[string, string, number]>,
  {
    parser: 'tags',
    name: 'a single tag value parses to a task or a one-line reason, never a throw',
    arbitrary: fc.tuple(fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,10}$/), tagValue),
    runs: 3000,
    check([name, value]: [string, string]) {
      const r = taskFromTagValue(name, value);
      if (typeof r === 'string' && (r === '' || unshown(r))) fail(`reason ${JSON.stringify(r)}`);
      if (typeof r !== 'string' && r.name !== name) fail('the task lost its name');
    },
  } satisfies PropertyDef<[string, string]>,
] as const;
