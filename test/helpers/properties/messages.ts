// Properties of every problem message that echoes input: text holding line breaks, control characters and
// invisible characters, put into every place a parser or decoder may quote it back (a key, a value, a MIME
// header, a boundary, a quoted-printable escape, a tag, a config value, a NodeConfig, a kubeconfig, a YAML tag
// or alias, a JSON syntax error), must come back escaped, in one line, and cut when long (issue 19: a
// quoted-printable escape before a line break gave a problem message that spanned two lines).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { InvalidInput, formatProblem, type Problem } from '../../../src/base/errors.js';
import { parseDuration } from '../../../src/base/duration.js';
import { unitNameProblem } from '../../../src/base/unit-name.js';
import { everyKindPolicy } from '../../../src/config/agent-config.js';
import { parseConfig } from '../../../src/config/load-config.js';
import { parseKubeconfig, readKubeconfig } from '../../../src/host/kube/kubeconfig.js';
import { buildPlan } from '../../../src/plan/build-plan.js';
import { tasksFromText } from '../../../src/plan/task-document.js';
import { tasksFromTags } from '../../../src/sources/tag-grammar.js';
import { postjoinParts } from '../../../src/sources/userdata-mime.js';
import { tasksFromParts } from '../../../src/sources/userdata-source.js';
import { nodeconfigProblem } from '../../../src/writers/nodeconfig.js';
import { compileTags } from '../../../src/writers/tag-compile.js';
import { fail, unshown } from './checks.js';
import type { PropertyDef } from './harness.js';

/** Characters that must never reach a message as they are. */
const HIDDEN = ['\n', '\r', '\r\n', '\t', '\0', '\x1b[31m', '\x07', '\x7f', '\x85', '\x9b', '\u2028', '\u2029', '\u200b', '\u200e', '\u202e', '\u2066', '\ufeff', '\u00a0', '\u3000', '\u00ad', '\u180e', '\ud800', '\udfff', '\u{e0001}'];

/** Text around a hidden character: the hidden character somewhere in it, sometimes long enough that it must be cut. */
export const hostile: fc.Arbitrary<string> = fc
  .tuple(
    fc.string({ unit: fc.constantFrom(...'abc/.:-_ =x"\'\\{}'.split('')), maxLength: 8 }),
    fc.array(fc.constantFrom(...HIDDEN), { minLength: 1, maxLength: 3 }),
    fc.string({ unit: fc.constantFrom(...'abcé中 :'.split('')), maxLength: 8 }),
    fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 100, max: 3000 }) }),
  )
  .map(([pre, hidden, post, pad]) => `${pre}${hidden.join('')}${post}${'y'.repeat(pad)}`);

/** Longer than any message needs: text longer than this was echoed whole, not cut. */
const MAX_MESSAGE = 1000;

function checkLine(what: string, text: string | undefined): void {
  const hidden = unshown(text);
  if (hidden) fail(`${what} holds ${hidden} as is: ${JSON.stringify(text)}`);
  if ((text ?? '').length > MAX_MESSAGE) fail(`${what} is ${text!.length} characters long: the input was echoed whole, not cut: ${JSON.stringify(text!.slice(0, 200))}…`);
}

function checkProblems(problems: readonly Problem[]): void {
  for (const p of problems) {
    checkLine("a problem's source", p.source);
    checkLine("a problem's path", p.at);
    checkLine("a problem's message", p.message);
    checkLine('a formatted problem', formatProblem(p));
  }
}

/** Runs `fn`: whatever it refuses must be InvalidInput whose every problem is one clean line. */
async function refusals(fn: () => unknown): Promise<void> {
  try {
    await fn();
  } catch (err) {
    if (!(err instanceof InvalidInput)) fail(`threw ${(err as Error)?.name ?? typeof err} instead of InvalidInput: ${(err as Error)?.stack ?? String(err)}`);
    checkProblems(err.problems);
  }
}

// ---- task documents ----------------------------------------------------------------------------------------

const LABEL = 'file:/etc/postjoin/tasks.d/10-x.yaml';
/** A policy that refuses, so that its denials (which quote paths, images and units) are made too. */
const narrowPolicy = () => ({ ...everyKindPolicy(), paths: ['/etc/narrow/*'], registries: ['narrow.example'], units: ['narrow.service'] });

/** Where hostile text goes in a task document; each makes the document from it. */
const DOCUMENT_SLOTS: Record<string, (h: string) => unknown> = {
  'top-level key': (h) => ({ apiVersion: 'postjoin/v1alpha1', kind: 'TaskList', tasks: [], [h]: 1 }),
  apiVersion: (h) => ({ apiVersion: h, kind: 'TaskList', tasks: [] }),
  kind: (h) => ({ apiVersion: 'postjoin/v1alpha1', kind: h, tasks: [] }),
  'task key': (h) => doc({ name: 'a', exec: { command: '/bin/true' }, [h]: 1 }),
  'task name': (h) => doc({ name: h, exec: { command: '/bin/true' } }),
  timeout: (h) => doc({ name: 'a', exec: { command: '/bin/true' }, timeout: h }),
  retryDelay: (h) => doc({ name: 'a', exec: { command: '/bin/true' }, retryDelay: h }),
  onFailure: (h) => doc({ name: 'a', exec: { command: '/bin/true' }, onFailure: h }),
  'env key': (h) => doc({ name: 'a', exec: { command: '/bin/true' }, env: { [h]: 'x' } }),
  cwd: (h) => doc({ name: 'a', exec: { command: '/bin/true' }, cwd: h }),
  'exec.command': (h) => doc({ name: 'a', exec: { command: h } }),
  'exec key': (h) => doc({ name: 'a', exec: { command: '/bin/true', [h]: 1 } }),
  'file.path': (h) => doc({ name: 'a', file: { path: `/etc/${h}`, content: '' } }),
  'file.mode': (h) => doc({ name: 'a', file: { path: '/etc/x', content: '', mode: h } }),
  'file.encoding': (h) => doc({ name: 'a', file: { path: '/etc/x', content: '', encoding: h } }),
  'file.owner': (h) => doc({ name: 'a', file: { path: '/etc/x', content: '', owner: h } }),
  'pull image': (h) => doc({ name: 'a', pull: { images: [`registry.example/${h}`] } }),
  'pull platform': (h) => doc({ name: 'a', pull: { images: ['x'], platform: h } }),
  'unit.name': (h) => doc({ name: 'a', unit: { name: `a${h}.service`, action: 'start' } }),
  'unit.action': (h) => doc({ name: 'a', unit: { name: 'a.service', action: h } }),
  'wait.url': (h) => doc({ name: 'a', wait: { url: `http://127.0.0.1/${h}` } }),
  'wait.file': (h) => doc({ name: 'a', wait: { file: `/run/${h}` } }),
  'wait.unit': (h) => doc({ name: 'a', wait: { unit: `${h}.service` } }),
  'wait.interval': (h) => doc({ name: 'a', wait: { file: '/x', interval: h } }),
  'group key': (h) => doc({ name: 'g', parallel: { tasks: [{ name: 'a', exec: { command: '/bin/true' } }] }, [h]: 1 }),
};
const doc = (task: Record<string, unknown>) => ({ apiVersion: 'postjoin/v1alpha1', kind: 'TaskList', tasks: [task] });

/** Raw YAML and JSON texts that break where the hostile text is: the parsers' own messages quote the text there. */
const TEXT_SLOTS: Record<string, (h: string) => [string, 'yaml' | 'json']> = {
  'YAML tag': (h) => [`apiVersion: !${h.replace(/\s/g, '')} postjoin/v1alpha1\n`, 'yaml'],
  'YAML alias': (h) => [`apiVersion: *${h.replace(/\s/g, '')}\n`, 'yaml'],
  'YAML scalar': (h) => [`apiVersion: postjoin/v1alpha1\nkind: TaskList\ntasks: []\n${h}\n`, 'yaml'],
  'YAML flow': (h) => [`{ tasks: [ ${h} ], ${h}`, 'yaml'],
  'JSON token': (h) => [`{"apiVersion": ${h}}`, 'json'],
  'JSON after value': (h) => [`{"tasks": []} ${h}`, 'json'],
  'JSON key': (h) => [`{${h}: 1}`, 'json'],
};

export const documentCase = fc.tuple(fc.constantFrom(...Object.keys(DOCUMENT_SLOTS), ...Object.keys(TEXT_SLOTS)), hostile, fc.constantFrom('yaml' as const, 'json' as const));

// ---- user data -----------------------------------------------------------------------------------------------

const mime = (head: string, partHeaders: string, body: string, boundary = 'B') =>
  Buffer.from(`MIME-Version: 1.0\nContent-Type: ${head}\n\n--${boundary}\n${partHeaders}\n${body}\n--${boundary}--\n`, 'latin1');

/** Where hostile text goes in user data. Bytes, not characters: latin1 keeps them one to one. */
const USERDATA_SLOTS: Record<string, (h: string) => Buffer> = {
  'quoted-printable escape': (h) => mime('multipart/mixed; boundary=B', 'Content-Type: application/postjoin+yaml\nContent-Transfer-Encoding: quoted-printable\n', `a=${h}`),
  'Content-Transfer-Encoding': (h) => mime('multipart/mixed; boundary=B', `Content-Type: application/postjoin+yaml\nContent-Transfer-Encoding: ${h}\n`, 'x'),
  'part Content-Type': (h) => mime('multipart/mixed; boundary=B', `Content-Type: ${h}\n`, 'x'),
  'part header line': (h) => mime('multipart/mixed; boundary=B', `${h}\n`, 'x'),
  boundary: (h) => Buffer.from(`MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="${h.replace(/["\\\n]/g, '')}"\n\nno boundary here\n`, 'latin1'),
  'boundary, cut off': (h) => Buffer.from(`MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="${h.replace(/["\\\n]/g, '')}"\n\n--${h.replace(/["\\\n]/g, '')}\nContent-Type: application/postjoin+yaml\n\nx`, 'latin1'),
  'part document': (h) => mime('multipart/mixed; boundary=B', 'Content-Type: application/postjoin+yaml\n', `apiVersion: ${JSON.stringify(h)}\nkind: TaskList\ntasks: []`),
};

export const userdataCase = fc.tuple(fc.constantFrom(...Object.keys(USERDATA_SLOTS)), hostile);

// ---- tags ------------------------------------------------------------------------------------------------------

const TAG_SLOTS: Record<string, (h: string) => [string, string]> = {
  key: (h) => [`postjoin:${h}`, 'pull x'],
  kind: (h) => ['postjoin:a', `${JSON.stringify(h)} x`],
  'quoted word': (h) => ['postjoin:a', `pull '${h.replace(/'/g, '')}`],
  'pull image': (h) => ['postjoin:a', `pull 'registry.example/${h.replace(/'/g, '')}'`],
  'unit name': (h) => ['postjoin:a', `unit start 'a${h.replace(/'/g, '')}.service'`],
  'unit action': (h) => ['postjoin:a', `unit '${h.replace(/'/g, '')}' a.service`],
  'wait url': (h) => ['postjoin:a', `wait url 'http://127.0.0.1/${h.replace(/'/g, '')}'`],
  'wait form': (h) => ['postjoin:a', `wait '${h.replace(/'/g, '')}' x`],
  'exec words': (h) => ['postjoin:a', `exec /bin/x '${h.replace(/'/g, '')}'`],
  script: (h) => ['postjoin:a', `script '${h.replace(/'/g, '')}'`],
};

export const tagCase = fc.tuple(fc.constantFrom(...Object.keys(TAG_SLOTS)), hostile);

// ---- the agent config, durations, unit names ---------------------------------------------------------------------

const CONFIG_SLOTS: Record<string, (h: string) => unknown> = {
  key: (h) => ({ [h]: 1 }),
  'nested key': (h) => ({ readiness: { [h]: 1 } }),
  source: (h) => ({ sources: [h] }),
  'policy kind': (h) => ({ policy: { tags: { allow: [h] } } }),
  'readiness.timeout': (h) => ({ readiness: { timeout: h } }),
  'readiness.units': (h) => ({ readiness: { units: [`${h}.service`] } }),
  'readiness.kubeletHealthz': (h) => ({ readiness: { kubeletHealthz: h } }),
  'kubernetes.condition': (h) => ({ kubernetes: { condition: h } }),
  'kubernetes.condition prefix': (h) => ({ kubernetes: { condition: `${h}/Ready` } }),
  'kubernetes.label': (h) => ({ kubernetes: { label: `${h}/result` } }),
  'kubernetes.nodeName': (h) => ({ kubernetes: { nodeName: h } }),
  'kubernetes.enabled': (h) => ({ kubernetes: { enabled: h } }),
  'containerd.namespace': (h) => ({ containerd: { namespace: h } }),
  runTimeout: (h) => ({ runTimeout: h }),
  'imds.budget': (h) => ({ imds: { budget: h } }),
};

export const configCase = fc.tuple(fc.constantFrom(...Object.keys(CONFIG_SLOTS)), hostile);

// ---- NodeConfig (render-userdata) and the kubeconfig --------------------------------------------------------------

const NODECONFIG_SLOTS: Record<string, (h: string) => Buffer> = {
  apiVersion: (h) => Buffer.from(stringify({ apiVersion: h, kind: 'NodeConfig' })),
  kind: (h) => Buffer.from(stringify({ apiVersion: 'node.eks.aws/v1alpha1', kind: h })),
  'YAML text': (h) => Buffer.from(`apiVersion: node.eks.aws/v1alpha1\nkind: NodeConfig\n${h}\n: [`),
  'YAML alias': (h) => Buffer.from(`apiVersion: *${h.replace(/\s/g, '')}\n`),
};

const kubeconfig = (over: { server?: string; context?: string; exec?: Record<string, unknown>; caFile?: string }) => ({
  apiVersion: 'v1',
  kind: 'Config',
  'current-context': over.context ?? 'c',
  contexts: [{ name: 'c', context: { cluster: 'k', user: 'u' } }],
  clusters: [{ name: 'k', cluster: { server: over.server ?? 'https://127.0.0.1:6443', ...(over.caFile ? { 'certificate-authority': over.caFile } : {}) } }],
  users: [{ name: 'u', user: { exec: { apiVersion: 'client.authentication.k8s.io/v1beta1', command: 'aws', ...over.exec } } }],
});

const KUBECONFIG_SLOTS: Record<string, (h: string) => unknown> = {
  server: (h) => kubeconfig({ server: `https://${h}` }),
  'server scheme': (h) => kubeconfig({ server: `${h.replace(/[^a-z]/g, '') || 'x'}://127.0.0.1/${h}` }),
  'current-context': (h) => kubeconfig({ context: h }),
  'exec.apiVersion': (h) => kubeconfig({ exec: { apiVersion: h } }),
  'certificate-authority': (h) => kubeconfig({ caFile: `/nonexistent/${h}` }),
};

export const clusterCase = fc.tuple(fc.constantFrom(...Object.keys(NODECONFIG_SLOTS).map((s) => `nodeconfig ${s}`), ...Object.keys(KUBECONFIG_SLOTS).map((s) => `kubeconfig ${s}`), 'kubeconfig text', 'duration', 'unit name'), hostile);

const kubeDir = mkdtempSync(join(tmpdir(), 'postjoin-prop-kubeconfig-'));
process.on('exit', () => rmSync(kubeDir, { recursive: true, force: true }));

export const messageProperties = [
  {
    parser: 'messages',
    name: 'text with line breaks or hidden characters anywhere in a task document comes back in problems escaped, in one line, cut',
    arbitrary: documentCase,
    runs: 600,
    async check([slot, h, format]: [string, string, 'yaml' | 'json']) {
      let textIn: string;
      let fmt = format;
      if (slot in TEXT_SLOTS) [textIn, fmt] = TEXT_SLOTS[slot]!(h);
      else {
        const value = DOCUMENT_SLOTS[slot]!(h);
        textIn = format === 'json' ? JSON.stringify(value) : stringify(value);
      }
      await refusals(() => buildPlan(tasksFromText(textIn, fmt, LABEL, 'file'), narrowPolicy()));
      // The tags verb quotes what it cannot write as a tag; it compiles only what validated, so valid text.
      try {
        const sourced = tasksFromText(textIn, fmt, LABEL, 'file');
        checkProblems(compileTags(sourced, buildPlan(sourced, everyKindPolicy()), LABEL).problems);
      } catch (err) {
        if (!(err instanceof InvalidInput)) throw err;
      }
    },
  } satisfies PropertyDef<[string, string, 'yaml' | 'json']>,
  {
    parser: 'messages',
    name: 'text with line breaks or hidden characters anywhere in user data comes back in problems escaped, in one line, cut',
    arbitrary: userdataCase,
    runs: 400,
    async check([slot, h]: [string, string]) {
      await refusals(() => tasksFromParts(postjoinParts(USERDATA_SLOTS[slot]!(h))));
    },
  } satisfies PropertyDef<[string, string]>,
  {
    parser: 'messages',
    name: 'text with line breaks or hidden characters in an instance tag comes back in problems escaped, in one line, cut',
    arbitrary: tagCase,
    runs: 400,
    async check([slot, h]: [string, string]) {
      const out = tasksFromTags(new Map([TAG_SLOTS[slot]!(h)]));
      if (!out.enabled) return;
      checkProblems(out.problems);
      await refusals(() => buildPlan(out.tasks, { ...narrowPolicy(), tags: { allow: ['pull', 'unit', 'wait'] } }));
    },
  } satisfies PropertyDef<[string, string]>,
  {
    parser: 'messages',
    name: 'text with line breaks or hidden characters in the agent config comes back in problems escaped, in one line, cut',
    arbitrary: configCase,
    runs: 400,
    async check([slot, h]: [string, string]) {
      await refusals(() => parseConfig(CONFIG_SLOTS[slot]!(h), '/etc/postjoin/config.yaml'));
    },
  } satisfies PropertyDef<[string, string]>,
  {
    parser: 'messages',
    name: 'text with line breaks or hidden characters in a NodeConfig, a kubeconfig, a duration or a unit name comes back escaped, in one line, cut',
    arbitrary: clusterCase,
    runs: 400,
    async check([slot, h]: [string, string]) {
      if (slot === 'duration') {
        const r = parseDuration(h);
        if (!r.ok) checkLine('a duration refusal', r.message);
      } else if (slot === 'unit name') {
        checkLine('a unit name refusal', unitNameProblem(h));
      } else if (slot.startsWith('nodeconfig ')) {
        checkLine('a NodeConfig refusal', nodeconfigProblem(NODECONFIG_SLOTS[slot.slice('nodeconfig '.length)]!(h)));
      } else {
        try {
          if (slot === 'kubeconfig text') {
            const file = join(kubeDir, 'kubeconfig');
            writeFileSync(file, `apiVersion: v1\n${h}\n: [\n*${h.replace(/\s/g, '')}\n`);
            await readKubeconfig(file);
          } else await parseKubeconfig(KUBECONFIG_SLOTS[slot.slice('kubeconfig '.length)]!(h), '/var/lib/kubelet/kubeconfig');
        } catch (err) {
          if ((err as Error).name !== 'KubeconfigError') throw err;
          checkLine('a kubeconfig error', (err as Error).message);
        }
      }
    },
  } satisfies PropertyDef<[string, string]>,
] as const;
