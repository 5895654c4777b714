// What Karpenter does to an EC2NodeClass userData before a node sees it, reproduced in Go from its source
// (test/helpers/karpenter-merge) and checked against Karpenter's own golden files; then applied to what
// `render-userdata --for karpenter` writes. postjoin's part must reach the node intact: nodeadm's reader (Go's
// mime/multipart, test/helpers/go-multipart) and postjoin itself must read the same tasks. And what render-userdata
// refuses for Karpenter must really break in that merge. Needs the Go toolchain (apt-get install golang-go).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import t, { type Test } from 'tap';
import { InvalidInput } from '../../src/base/errors.js';
import { parseUserData, postjoinParts } from '../../src/sources/userdata-mime.js';
import { tasksFromText } from '../../src/plan/task-document.js';
import { run as renderUserdata } from '../../src/verbs/render-userdata.js';
import { readTaskFile } from '../../src/verbs/task-file.js';
import { KARPENTER_NODECONFIG_BYTES } from '../../src/writers/karpenter-userdata.js';
import { planShape } from '../helpers/properties/plan.js';
import { spell, spelling, taskDocument, taskList } from '../helpers/properties/tasks.js';
import { decodeToPlan } from '../helpers/properties/userdata.js';
import { requireReal, which } from '../harness/require-real.js';
import { BUNDLE, ROOT } from '../helpers/cli.js';
import { buildGoProgram, runGoJson } from '../helpers/go-program.js';

interface Merged {
  mime: boolean;
  merged?: string;
  err?: string;
}
interface GoRead {
  multipart: boolean;
  parts: { type: string; body: string }[] | null;
  err?: string;
}

const TASKS = `apiVersion: postjoin/v1alpha1
kind: TaskList
tasks:
  - name: hello
    exec: { command: /usr/bin/echo, args: [hi] }
  - name: tune
    script: |
      sysctl -w vm.max_map_count=262144
`;
const FIXTURES = join(ROOT, 'test/fixtures');

/** Karpenter's own NodeConfig part in the shape its launch template test expects (al2023_*.golden). */
function karpenterPart(ca: string): string {
  return `# Karpenter Generated NodeConfig
apiVersion: node.eks.aws/v1alpha1
kind: NodeConfig
metadata: {}
spec:
  cluster:
    apiServerEndpoint: https://0123456789ABCDEF0123456789ABCDEF.gr7.us-west-2.eks.amazonaws.com
    certificateAuthority: ${Buffer.from(ca).toString('base64')}
    cidr: 10.100.0.0/16
    name: my-cluster
  containerd: {}
  instance:
    localStorage: {}
  kubelet:
    config:
      clusterDNS:
      - 10.100.0.10
      maxPods: 110
      registerWithTaints:
      - effect: NoSchedule
        key: readiness.k8s.io/postjoin
        value: pending
      - effect: NoExecute
        key: karpenter.sh/unregistered
    flags:
    - --node-labels="karpenter.k8s.aws/ec2nodeclass=postjoin,karpenter.sh/capacity-type=on-demand,karpenter.sh/do-not-sync-taints=true,karpenter.sh/nodepool=postjoin,postjoin.io/handoff=karpenter"
`;
}
const SAMPLE_PART = karpenterPart('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');

function cli(args: string[]): { code: number; stdout: Buffer; stderr: string } {
  const r = spawnSync(process.execPath, [BUNDLE, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr.toString() };
}

interface Go {
  merge: (ud: Buffer, part?: string) => Promise<Merged>;
  mergeAll: (uds: Buffer[]) => Promise<Merged[]>;
  read: (doc: Buffer) => Promise<GoRead>;
  dir: string;
}

async function setup(t: Test): Promise<Go | undefined> {
  if (!(await requireReal(t, 'Go toolchain', async () => (await which('go')) !== undefined, 'apt-get install -y --no-install-recommends golang-go'))) return undefined;
  const merger = await buildGoProgram('karpenter-merge', (fn) => t.teardown(fn));
  const reader = await buildGoProgram('go-multipart', (fn) => t.teardown(fn));
  const dir = await mkdtemp(join(tmpdir(), 'postjoin-kmerge-'));
  return {
    dir,
    merge: async (ud, part = SAMPLE_PART) => (await runGoJson<Merged[]>(merger, [{ userData: ud.toString('base64'), karpenterPart: Buffer.from(part).toString('base64') }]))[0]!,
    mergeAll: (uds) => runGoJson<Merged[]>(merger, uds.map((ud) => ({ userData: ud.toString('base64'), karpenterPart: Buffer.from(SAMPLE_PART).toString('base64') }))),
    read: async (doc) => (await runGoJson<GoRead[]>(reader, [doc.toString('base64')]))[0]!,
  };
}

const mergedBytes = (m: Merged) => Buffer.from(m.merged ?? '', 'base64');

t.test("the Go model turns Karpenter's golden input into Karpenter's golden merged user data, byte for byte", async (t) => {
  const go = await setup(t);
  if (!go) return;
  const input = await readFile(join(FIXTURES, 'userdata/upstream/karpenter-al2023_mime_userdata_input.golden'));
  const unmerged = parseUserData(await readFile(join(FIXTURES, 'karpenter/al2023_userdata_unmerged.golden')));
  if (!unmerged.multipart) throw new Error('multipart expected');
  const own = unmerged.parts[0]!.body.toString('latin1');
  const m = await go.merge(input, own);
  t.equal(m.err, undefined);
  t.ok(mergedBytes(m).equals(await readFile(join(FIXTURES, 'karpenter/al2023_mime_userdata_merged.golden'))), 'identical to al2023_mime_userdata_merged.golden');
});

t.test('render-userdata --for karpenter survives the merge: nodeadm and postjoin read the same tasks', async (t) => {
  const go = await setup(t);
  if (!go) return;
  const nodeconfig = 'apiVersion: node.eks.aws/v1alpha1\nkind: NodeConfig\nspec:\n  kubelet:\n    config:\n      maxPods: 42\n';
  await writeFile(join(go.dir, 'nc.yaml'), nodeconfig);
  const cases: [string, string, string[], string[]][] = [
    ['LF task file', TASKS, [], ['application/postjoin+yaml', 'application/node.eks.aws']],
    ['CRLF task file', TASKS.replace(/\n/g, '\r\n'), [], ['application/postjoin+yaml', 'application/node.eks.aws']],
    ['with a NodeConfig of the user\'s', TASKS, ['--nodeconfig', join(go.dir, 'nc.yaml')], ['application/node.eks.aws', 'application/postjoin+yaml', 'application/node.eks.aws']],
  ];
  for (const [what, tasks, extra, types] of cases) {
    await writeFile(join(go.dir, 'tasks.yaml'), tasks);
    const r = cli(['render-userdata', '--for', 'karpenter', '--tasks', join(go.dir, 'tasks.yaml'), ...extra]);
    t.equal(r.code, 0, `${what}: ${r.stderr}`);
    const m = await go.merge(r.stdout);
    t.ok(m.mime && m.err === undefined, `${what}: Karpenter takes it for MIME and merges it`);
    const merged = mergedBytes(m);
    const nodeadm = await go.read(merged);
    t.same(nodeadm.parts?.map((p) => p.type), types, `${what}: nodeadm's reader sees our part, then Karpenter's NodeConfig last`);
    const ours = postjoinParts(merged);
    t.equal(ours.length, 1, what);
    t.equal(ours[0]!.text, TASKS, `${what}: postjoin reads the task file (without CRs, which Karpenter removes)`);
    t.equal(Buffer.from(nodeadm.parts!.find((p) => p.type === 'application/postjoin+yaml')!.body, 'base64').toString(), TASKS, `${what}: nodeadm's reader sees the same bytes`);
    await writeFile(join(go.dir, 'merged.mime'), merged);
    const v = cli(['validate', join(go.dir, 'merged.mime')]);
    t.equal(v.code, 0, `${what}: ${v.stdout}`);
    t.match(v.stdout.toString(), /\(2 tasks, user data\)/);
  }
});

t.test('generated task files (fixed seed): what render-userdata --for karpenter writes, Karpenter\'s merge keeps, plan for plan', async (t) => {
  const go = await setup(t);
  if (!go) return;
  const cases = fc.sample(fc.record({ tasks: taskList({ groups: true, maxTasks: 3 }), spelling }), { seed: 20_2602, numRuns: 150 });
  const rendered: { doc: Buffer; plan: unknown }[] = [];
  let refused = 0;
  const quiet = process.stderr.write;
  for (const [i, c] of cases.entries()) {
    const path = join(go.dir, `tasks-${i}.${c.spelling.format === 'json' ? 'json' : 'yaml'}`);
    await writeFile(path, spell(taskDocument(c.tasks), c.spelling));
    const chunks: Buffer[] = [];
    const stdout = new Writable({ write: (b: Buffer, _e, cb) => (chunks.push(Buffer.from(b)), cb()) });
    process.stderr.write = (() => true) as typeof process.stderr.write;
    try {
      const values = { tasks: path, for: 'karpenter' };
      await renderUserdata({ configPath: '/nonexistent', configGiven: false, stateDir: '/nonexistent', logLevel: 'error', output: 'text', values, positionals: [], stdout });
      rendered.push({ doc: Buffer.concat(chunks), plan: planShape((await readTaskFile(path, '--tasks')).plan) });
    } catch (err) {
      if (!(err instanceof InvalidInput)) throw err;
      refused++; // an invalid task list, or a line Karpenter's rewrite would break: refused, never written
    } finally {
      process.stderr.write = quiet;
    }
  }
  t.ok(rendered.length >= 100, `${rendered.length} of ${cases.length} rendered (${refused} refused)`);
  const merged = await go.mergeAll(rendered.map((r) => r.doc));
  const differ = rendered.filter((r, i) => !merged[i]!.mime || merged[i]!.err !== undefined || !isDeepStrictEqual(planShape(decodeToPlan(mergedBytes(merged[i]!))), r.plan));
  t.equal(differ.length, 0, 'after the merge the node plans every one of them exactly as postjoin plans the task file');
});

t.test('what render-userdata refuses for Karpenter does break in the merge', async (t) => {
  const go = await setup(t);
  if (!go) return;
  const nc = join(go.dir, 'nc.yaml');
  await writeFile(nc, 'apiVersion: node.eks.aws/v1alpha1\nkind: NodeConfig\nspec: {}\n');
  const render = async (tasks: string, extra: string[]) => {
    await writeFile(join(go.dir, 'tasks.yaml'), tasks);
    const r = cli(['render-userdata', '--nodeconfig', nc, '--tasks', join(go.dir, 'tasks.yaml'), ...extra]);
    t.equal(r.code, 0, 'rendered for a launch template, where it is fine');
    return r.stdout;
  };
  const gz = await go.merge(await render(TASKS, ['--gzip']));
  t.same(gz, { mime: false }, 'gzip: not MIME to Karpenter, so it wraps the whole thing as one part of its own');

  const boundary = '{apiVersion: postjoin/v1alpha1, kind: TaskList, tasks: [{name: sql, script: "echo a\n--//\necho b"}]}\n';
  const cut = await go.merge(await render(boundary, []));
  t.equal(cut.err, undefined);
  // The part ends at that line, and the rest of it reads as a part with broken headers: nodeadm's reader fails
  // on the whole user data (the node would not join), and so does postjoin's.
  const nodeadm = await go.read(mergedBytes(cut));
  t.match(nodeadm.err, /malformed MIME header/, 'a "--//" line: nodeadm cannot read the user data at all');
  t.throws(() => postjoinParts(mergedBytes(cut)), /malformed MIME part headers/, 'nor can postjoin');

  const lone = `${TASKS}  - name: x\n    script: "echo a\rb"\n`;
  const joined = await go.merge(await render(lone, []));
  const script = (text: string) => (tasksFromText(text, 'yaml', 'x', 'userdata').at(-1)!.raw as { script: string }).script;
  t.equal(script(lone), 'echo a\rb', 'the task as written: a CR inside the string');
  t.equal(script(postjoinParts(mergedBytes(joined))[0]!.text), 'echo ab', 'Karpenter removes it: the two lines are joined');
});

t.test("Karpenter's own part, measured with an RSA-2048 cluster CA: within what the size warning allows for", async (t) => {
  if (!(await requireReal(t, 'openssl', async () => (await which('openssl')) !== undefined, 'apt-get install -y openssl'))) return;
  const dir = await mkdtemp(join(tmpdir(), 'postjoin-kca-'));
  // The shape of an EKS cluster CA: a self-signed RSA-2048 certificate for "kubernetes", ten years.
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'ca.key'), '-out', join(dir, 'ca.crt'), '-subj', '/CN=kubernetes', '-days', '3650'], { stdio: 'ignore' });
  const part = karpenterPart(await readFile(join(dir, 'ca.crt'), 'utf8'));
  const framing = '--//\nContent-Type: application/node.eks.aws\n\n'.length + '\n--//--\n'.length;
  const bytes = Buffer.byteLength(part) + framing;
  t.comment(`Karpenter's NodeConfig part with its framing: ${bytes} bytes`);
  t.ok(bytes <= KARPENTER_NODECONFIG_BYTES, `${bytes} <= ${KARPENTER_NODECONFIG_BYTES}`);
  t.ok(KARPENTER_NODECONFIG_BYTES - bytes < 512, 'and the allowance is not far above it');
});
