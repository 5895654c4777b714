// render-userdata for a Karpenter EC2NodeClass `userData` (issue 20 item 2, issue 17 item 7), through the bundle.
// Karpenter (aws/karpenter-provider-aws, pkg/providers/amifamily/bootstrap/nodeadm.go) takes a userData as MIME
// only when, trimmed, it starts with "MIME-Version:" or "Content-Type:"; anything else becomes one part of its
// own (a NodeConfig if it is a YAML map, else a shell script). It re-serializes the parts with its fixed
// boundary "//" (mime/mime.go), drops every CR, and appends its own NodeConfig, whose kubelet config carries
// registerWithTaints: the NodeClaim's taints, startupTaints and karpenter.sh/unregistered:NoExecute.
import { spawnSync } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { parseUserData, postjoinParts } from '../../src/sources/userdata-mime.js';
import { BUNDLE } from '../helpers/cli.js';

const TASKS = `apiVersion: postjoin/v1alpha1
kind: TaskList
tasks:
  - name: hello
    exec: { command: /usr/bin/echo, args: [hi] }
`;
const nodeconfig = (kubelet: string) => `apiVersion: node.eks.aws/v1alpha1
kind: NodeConfig
spec:
  kubelet:
${kubelet}`;

function cli(args: string[]): { code: number; stdout: Buffer; stderr: string } {
  const r = spawnSync(process.execPath, [BUNDLE, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr.toString() };
}

async function files(entries: Record<string, string | Buffer>): Promise<Record<string, string>> {
  const dir = await mkdtemp(join(tmpdir(), 'postjoin-render-k-'));
  const out: Record<string, string> = { dir };
  for (const [name, body] of Object.entries(entries)) {
    await writeFile(join(dir, name), body);
    out[name] = join(dir, name);
  }
  return out;
}

t.test('without --nodeconfig: a MIME document with only the postjoin part, starting with "MIME-Version:"', async (t) => {
  const f = await files({ 'tasks.yaml': TASKS });
  const inferred = cli(['render-userdata', '--tasks', f['tasks.yaml']!]);
  t.equal(inferred.code, 0, inferred.stderr);
  const text = inferred.stdout.toString();
  t.ok(text.startsWith('MIME-Version: 1.0\n'), 'Karpenter reads it as MIME (its rule: the trimmed text starts with "MIME-Version:")');
  const ud = parseUserData(inferred.stdout);
  if (!ud.multipart) throw new Error('multipart expected');
  t.same(ud.parts.map((p) => p.contentType), ['application/postjoin+yaml'], 'no NodeConfig part: Karpenter adds its own');
  t.equal(postjoinParts(inferred.stdout)[0]!.text, TASKS);
  t.match(inferred.stderr, /^postjoin render-userdata: note: no --nodeconfig, so this is user data for a Karpenter EC2NodeClass \(Karpenter adds the NodeConfig\); a launch template needs --nodeconfig\. --for karpenter drops this note\.\n$/);

  const explicit = cli(['render-userdata', '--tasks', f['tasks.yaml']!, '--for', 'karpenter']);
  t.equal(explicit.code, 0);
  t.equal(explicit.stderr, '', 'said explicitly: no note');
  t.ok(explicit.stdout.equals(inferred.stdout), 'the same bytes');

  await writeFile(join(f.dir!, 'ud.mime'), explicit.stdout);
  const v = cli(['validate', join(f.dir!, 'ud.mime')]);
  t.equal(v.code, 0, v.stdout.toString());
  t.match(v.stdout.toString(), /ok\s+\S+ud\.mime \(1 task, user data\)/);
});

t.test('--gzip is refused for Karpenter: a gzip document is not text starting with a MIME header', async (t) => {
  const f = await files({ 'tasks.yaml': TASKS });
  for (const args of [['--for', 'karpenter'], []]) {
    const r = cli(['render-userdata', '--tasks', f['tasks.yaml']!, '--gzip', ...args]);
    t.equal(r.code, 2, args.join(' ') || 'inferred');
    t.equal(r.stdout.length, 0, 'nothing written');
    t.match(r.stderr, /--gzip: Karpenter takes an EC2NodeClass userData as MIME only when it starts with "MIME-Version:" or "Content-Type:"; gzip'ed, it would become a shell-script part and the postjoin part would never reach the node\. Leave out --gzip \(an EC2NodeClass userData is text\)/);
  }
});

t.test('--for: launch-template needs --nodeconfig; an unknown target is a usage error', async (t) => {
  const f = await files({ 'tasks.yaml': TASKS });
  const lt = cli(['render-userdata', '--tasks', f['tasks.yaml']!, '--for', 'launch-template']);
  t.equal(lt.code, 2);
  t.equal(lt.stdout.length, 0);
  t.match(lt.stderr, /--for launch-template needs --nodeconfig FILE: nodeadm reads its NodeConfig from the launch template's user data, and with your own AMI nothing else adds one/);
  const bad = cli(['render-userdata', '--tasks', f['tasks.yaml']!, '--for', 'eks']);
  t.equal(bad.code, 2);
  t.match(bad.stderr, /usage: --for is karpenter or launch-template, not "eks"/);
});

t.test('--for karpenter --nodeconfig: --register-with-taints in kubelet.flags is refused (it would drop karpenter.sh/unregistered)', async (t) => {
  const cases: [string, string, string][] = [
    ['one flag', '    flags: ["--node-labels=a=b", "--register-with-taints=readiness.k8s.io/postjoin=pending:NoSchedule"]\n', 'kubelet.flags\\[1\\]'],
    ['the value as the next item', '    flags:\n      - --register-with-taints\n      - dedicated=gpu:NoSchedule\n', 'kubelet.flags\\[0\\]'],
  ];
  for (const [what, kubelet, where] of cases) {
    const f = await files({ 'tasks.yaml': TASKS, 'nc.yaml': nodeconfig(kubelet) });
    const r = cli(['render-userdata', '--for', 'karpenter', '--nodeconfig', f['nc.yaml']!, '--tasks', f['tasks.yaml']!]);
    t.equal(r.code, 2, what);
    t.equal(r.stdout.length, 0, `${what}: nothing written`);
    t.match(
      r.stderr,
      new RegExp(
        `--nodeconfig \\S+nc\\.yaml: spec\\.${where} is --register-with-taints: on a Karpenter node the kubelet's flags override the registerWithTaints of Karpenter's own NodeConfig, dropping karpenter\\.sh/unregistered:NoExecute and the NodePool's taints and startupTaints; set taints in the NodePool \\(spec\\.template\\.spec\\.taints, startupTaints\\) instead`,
      ),
      what,
    );
  }
});

t.test('--for karpenter --nodeconfig: kubelet.config.registerWithTaints is a warning (Karpenter\'s NodeConfig, merged after it, replaces it)', async (t) => {
  const kubelet = '    config:\n      maxPods: 42\n      registerWithTaints: [{ key: dedicated, value: gpu, effect: NoSchedule }]\n';
  const f = await files({ 'tasks.yaml': TASKS, 'nc.yaml': nodeconfig(kubelet) });
  const r = cli(['render-userdata', '--for', 'karpenter', '--nodeconfig', f['nc.yaml']!, '--tasks', f['tasks.yaml']!]);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stderr, /^postjoin render-userdata: warning: --nodeconfig \S+nc\.yaml: spec\.kubelet\.config\.registerWithTaints is replaced by Karpenter's own NodeConfig, which nodeadm merges after this one; set taints in the NodePool \(spec\.template\.spec\.taints, startupTaints\)\n$/);
  const ud = parseUserData(r.stdout);
  t.same(ud.multipart && ud.parts.map((p) => p.contentType), ['application/node.eks.aws', 'application/postjoin+yaml'], 'the user\'s NodeConfig part, then ours; Karpenter appends its own last');

  const plain = await files({ 'tasks.yaml': TASKS, 'nc.yaml': nodeconfig('    config:\n      maxPods: 42\n') });
  const ok = cli(['render-userdata', '--for', 'karpenter', '--nodeconfig', plain['nc.yaml']!, '--tasks', plain['tasks.yaml']!]);
  t.equal(ok.code, 0);
  t.equal(ok.stderr, '', 'a NodeConfig without taints: no warning');
});

t.test('a launch-template NodeConfig whose taints the kubelet would drop: a warning naming them', async (t) => {
  const cases: [string, string, RegExp][] = [
    [
      'two --register-with-taints flags',
      '    flags:\n      - --register-with-taints=readiness.k8s.io/postjoin=pending:NoSchedule\n      - --node-labels=postjoin.io/handoff=true\n      - "--register-with-taints=dedicated=gpu:NoSchedule"\n',
      /^postjoin render-userdata: warning: --nodeconfig \S+nc\.yaml: spec\.kubelet\.flags has 2 --register-with-taints flags \(spec\.kubelet\.flags\[0\], spec\.kubelet\.flags\[2\]\); the kubelet keeps only the last, so readiness\.k8s\.io\/postjoin=pending:NoSchedule is dropped \(node-readiness-controller's startup taint: the node registers without it and pods can land before the controller taints it\); give every taint in one flag, comma-separated\n$/,
    ],
    [
      'a flag and kubelet.config.registerWithTaints',
      '    config:\n      registerWithTaints:\n        - { key: readiness.k8s.io/postjoin, value: pending, effect: NoSchedule }\n        - { key: dedicated, effect: NoSchedule }\n    flags: [\'--register-with-taints="dedicated=gpu:NoSchedule"\']\n',
      /^postjoin render-userdata: warning: --nodeconfig \S+nc\.yaml: --register-with-taints \(spec\.kubelet\.flags\[0\]\) overrides spec\.kubelet\.config\.registerWithTaints \(the kubelet's flags win over its config file\), so readiness\.k8s\.io\/postjoin=pending:NoSchedule, dedicated:NoSchedule are dropped \(node-readiness-controller's startup taint: the node registers without it and pods can land before the controller taints it\); keep every taint in one place\n$/,
    ],
    [
      'two flags, the first one dropped without a readiness taint',
      '    flags: ["--register-with-taints=a=b:NoSchedule,c:NoExecute", "--register-with-taints=readiness.k8s.io/postjoin=pending:NoSchedule,a=b:NoSchedule"]\n',
      /^postjoin render-userdata: warning: --nodeconfig \S+nc\.yaml: spec\.kubelet\.flags has 2 --register-with-taints flags \(spec\.kubelet\.flags\[0\], spec\.kubelet\.flags\[1\]\); the kubelet keeps only the last, so c:NoExecute is dropped; give every taint in one flag, comma-separated\n$/,
    ],
  ];
  for (const [what, kubelet, warning] of cases) {
    const f = await files({ 'tasks.yaml': TASKS, 'nc.yaml': nodeconfig(kubelet) });
    const r = cli(['render-userdata', '--nodeconfig', f['nc.yaml']!, '--tasks', f['tasks.yaml']!]);
    t.equal(r.code, 0, `${what}: still written (a launch template may mean it)`);
    t.match(r.stderr, warning, what);
  }
  const one = await files({ 'tasks.yaml': TASKS, 'nc.yaml': nodeconfig('    flags: ["--register-with-taints=readiness.k8s.io/postjoin=pending:NoSchedule,dedicated=gpu:NoSchedule"]\n') });
  const r = cli(['render-userdata', '--nodeconfig', one['nc.yaml']!, '--tasks', one['tasks.yaml']!]);
  t.equal(r.code, 0);
  t.equal(r.stderr, '', 'every taint in one flag: no warning');
});

t.test('--for karpenter: a line Karpenter\'s boundary "--//" would end the part at is refused, naming the file and line', async (t) => {
  // Block scalars are indented, so only a flow document can put such a line at column 0 (YAML folds the line
  // into the string); Go's reader takes "--//" followed by the end, a blank or "--" for a boundary line.
  const flow = (line: string) => `{apiVersion: postjoin/v1alpha1, kind: TaskList, tasks: [{name: sql, script: "echo a\n${line}\necho b"}]}\n`;
  for (const line of ['--//', '--// a comment', '--//--', '--//\t']) {
    const f = await files({ 'tasks.yaml': flow(line) });
    t.equal(cli(['validate', f['tasks.yaml']!]).code, 0, `${JSON.stringify(line)}: a valid task file`);
    const k = cli(['render-userdata', '--for', 'karpenter', '--tasks', f['tasks.yaml']!]);
    t.equal(k.code, 2, JSON.stringify(line));
    t.equal(k.stdout.length, 0);
    t.match(k.stderr, /--tasks \S+tasks\.yaml: line 2: starts with "--\/\/", Karpenter's MIME boundary: Karpenter rewrites the user data with that boundary, and the part would end at this line; change the line/, JSON.stringify(line));
  }
  for (const line of ['--//x', '  --//', '-- //']) {
    const f = await files({ 'tasks.yaml': flow(line) });
    t.equal(cli(['render-userdata', '--for', 'karpenter', '--tasks', f['tasks.yaml']!]).code, 0, `${JSON.stringify(line)} is no boundary line for Go's reader`);
  }
  const f = await files({ 'tasks.yaml': flow('--//'), 'nc.yaml': nodeconfig('    config:\n      maxPods: 42\n') });
  t.equal(cli(['render-userdata', '--nodeconfig', f['nc.yaml']!, '--tasks', f['tasks.yaml']!]).code, 0, 'a launch template keeps postjoin\'s own boundary');
  const k = await files({ 'tasks.yaml': TASKS, 'nc.yaml': `{apiVersion: node.eks.aws/v1alpha1, kind: NodeConfig, spec: {kubelet: {config: {x: "a\n--//\nb"}}}}\n` });
  const nc = cli(['render-userdata', '--for', 'karpenter', '--nodeconfig', k['nc.yaml']!, '--tasks', k['tasks.yaml']!]);
  t.equal(nc.code, 2, 'the NodeConfig part is rewritten too');
  t.match(nc.stderr, /--nodeconfig \S+nc\.yaml: line 2: starts with "--\/\/"/);
  const lone = await files({ 'tasks.yaml': `${TASKS}  - name: x\n    script: "echo a\rb"\n` });
  t.equal(cli(['validate', lone['tasks.yaml']!]).code, 0, 'YAML takes a lone CR for a line break');
  const cr = cli(['render-userdata', '--for', 'karpenter', '--tasks', lone['tasks.yaml']!]);
  t.equal(cr.code, 2);
  t.match(cr.stderr, /--tasks \S+tasks\.yaml: line 7: has a carriage return \(CR\) that ends no CRLF: Karpenter removes every CR when it merges user data, which would join this line with the next/);
  const crlf = await files({ 'tasks.yaml': TASKS.replace(/\n/g, '\r\n') });
  t.equal(cli(['render-userdata', '--for', 'karpenter', '--tasks', crlf['tasks.yaml']!]).code, 0, 'CRLF line ends are fine: without the CRs they are LF');
});

t.test('--for karpenter: a warning when Karpenter\'s own NodeConfig would take the user data past EC2\'s 16 KiB', async (t) => {
  const big = (n: number) => `${TASKS}  - name: big\n    file: { path: /etc/big, content: "${'x'.repeat(n)}" }\n`;
  const small = await files({ 'tasks.yaml': big(9_000) });
  const ok = cli(['render-userdata', '--for', 'karpenter', '--tasks', small['tasks.yaml']!]);
  t.equal(ok.code, 0);
  t.equal(ok.stderr, '', `${ok.stdout.length} bytes leaves room for Karpenter's part`);
  const f = await files({ 'tasks.yaml': big(14_000) });
  const r = cli(['render-userdata', '--for', 'karpenter', '--tasks', f['tasks.yaml']!]);
  t.equal(r.code, 0, 'written anyway');
  t.match(r.stderr, /^postjoin render-userdata: warning: \d+ bytes leaves only \d+ bytes for the NodeConfig Karpenter appends \(about \d+ bytes with a cluster CA and the usual labels and taints\) under EC2's 16 KiB user-data limit; bake big tasks into the AMI \(\/etc\/postjoin\/tasks\.d\)\n$/);
});
