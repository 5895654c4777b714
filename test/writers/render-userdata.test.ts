import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import fc from 'fast-check';
import t from 'tap';
import { parseUserData, postjoinParts } from '../../src/sources/userdata-mime.js';
import { renderMultipart } from '../../src/writers/userdata-render.js';
import { BUNDLE } from '../helpers/cli.js';
import { fixedSeed } from '../helpers/properties/harness.js';

const NODECONFIG = `apiVersion: node.eks.aws/v1alpha1
kind: NodeConfig
spec:
  cluster:
    name: my-cluster
    apiServerEndpoint: https://example.com
    certificateAuthority: Y2VydA==
    cidr: 10.100.0.0/16
`;
const TASKS = `apiVersion: postjoin/v1alpha1
kind: TaskList
tasks:
  - name: hello
    exec: { command: /usr/bin/echo, args: [hi] }
`;

/** Runs the bundle and keeps stdout as bytes (user data may be gzip), and stderr even on success (warnings). */
function cli(args: string[]): { code: number; stdout: Buffer; stderr: string } {
  const r = spawnSync(process.execPath, [BUNDLE, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr.toString() };
}

async function files(nodeconfig: string | Buffer, tasks: string) {
  const dir = await mkdtemp(join(tmpdir(), 'postjoin-render-'));
  await writeFile(join(dir, 'nodeconfig.yaml'), nodeconfig);
  await writeFile(join(dir, 'tasks.yaml'), tasks);
  return { dir, nodeconfig: join(dir, 'nodeconfig.yaml'), tasks: join(dir, 'tasks.yaml') };
}

t.test('property: every part comes back byte for byte, whatever bytes it holds', async (t) => {
  const body = fc.oneof(
    fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
    fc.array(fc.constantFrom('--', 'postjoin-', '\r\n', '\n', '\r', ' ', 'a', 'Content-Type: x\n\n'), { maxLength: 30 }).map((a) => Buffer.from(a.join(''))),
  );
  fc.assert(
    fc.property(body, body, (a, b) => {
      const ud = parseUserData(renderMultipart([{ contentType: 'application/node.eks.aws', body: a }, { contentType: 'text/plain', body: b }]));
      return ud.multipart && ud.parts.length === 2 && ud.parts[0]!.body.equals(a) && ud.parts[1]!.body.equals(b);
    }),
    // A fixed seed, as for every property in npm test (test/helpers/properties/harness.ts): the same cases on every run.
    { numRuns: 500, seed: fixedSeed({ parser: 'render-userdata', name: t.name }) },
  );
  t.pass('500 random pairs of bodies survived');
});

t.test('the same inputs render the same bytes (no launch-template drift)', async (t) => {
  const parts = [{ contentType: 'application/node.eks.aws', body: Buffer.from(NODECONFIG) }];
  t.ok(renderMultipart(parts).equals(renderMultipart(parts)));
});

t.test('render-userdata: NodeConfig byte-identical (CRLF, no final newline), tasks as our part, nodeadm-shaped', async (t) => {
  for (const nodeconfig of [NODECONFIG, NODECONFIG.replace(/\n/g, '\r\n'), NODECONFIG.trimEnd()]) {
    const f = await files(nodeconfig, TASKS);
    const r = cli(['render-userdata', '--nodeconfig', f.nodeconfig, '--tasks', f.tasks]);
    t.equal(r.code, 0, r.stderr);
    const text = r.stdout.toString();
    t.match(text, /^MIME-Version: 1\.0\nContent-Type: multipart\/mixed; boundary="postjoin-[0-9a-f]{24}"\n\n--postjoin-/);
    const ud = parseUserData(r.stdout);
    if (!ud.multipart) throw new Error('multipart expected');
    t.same(
      ud.parts.map((p) => p.contentType),
      ['application/node.eks.aws', 'application/postjoin+yaml'],
    );
    t.ok(ud.parts[0]!.body.equals(Buffer.from(nodeconfig)), 'NodeConfig part is byte-identical');
    t.equal(postjoinParts(r.stdout)[0]!.text, TASKS);
  }
});

t.test('render-userdata --gzip writes gzip of the same user data', async (t) => {
  const f = await files(NODECONFIG, TASKS);
  const plain = cli(['render-userdata', '--nodeconfig', f.nodeconfig, '--tasks', f.tasks]);
  const gz = cli(['render-userdata', '--nodeconfig', f.nodeconfig, '--tasks', f.tasks, '--gzip']);
  t.equal(gz.code, 0);
  t.same([gz.stdout[0], gz.stdout[1]], [0x1f, 0x8b]);
  t.ok(gunzipSync(gz.stdout).equals(plain.stdout));
  t.same(postjoinParts(gz.stdout), postjoinParts(plain.stdout), 'the userdata source reads both alike');
});

t.test('cloud-init\'s MIME parser (Python email) sees the same two parts and the same NodeConfig bytes', async (t) => {
  try {
    execFileSync('python3', ['-c', 'import email']);
  } catch {
    t.comment('SKIP: python3 is not installed (apt-get install -y python3)');
    return;
  }
  const f = await files(NODECONFIG, TASKS);
  const out = cli(['render-userdata', '--nodeconfig', f.nodeconfig, '--tasks', f.tasks]).stdout;
  const script = `import email, json, sys
m = email.message_from_bytes(sys.stdin.buffer.read())
print(json.dumps([[p.get_content_type(), p.get_payload(decode=True).decode()] for p in m.get_payload()]))`;
  t.same(JSON.parse(execFileSync('python3', ['-c', script], { input: out }).toString()), [
    ['application/node.eks.aws', NODECONFIG],
    ['application/postjoin+yaml', TASKS],
  ]);
});

t.test('render-userdata refuses bad input with exit 2 and writes nothing', async (t) => {
  const f = await files(NODECONFIG, TASKS.replace('args: [hi]', 'args: hi'));
  const bad = cli(['render-userdata', '--nodeconfig', f.nodeconfig, '--tasks', f.tasks]);
  t.equal(bad.code, 2);
  t.equal(bad.stdout.length, 0);
  t.match(bad.stderr, /tasks\.yaml: tasks\[0\]\.exec\.args, line 5: expected a list of strings/);
  const missing = cli(['render-userdata', '--nodeconfig', f.nodeconfig]);
  t.equal(missing.code, 2);
  t.match(missing.stderr, /--tasks FILE is required/);
  const nested = await files(cli(['render-userdata', '--nodeconfig', f.nodeconfig, '--tasks', (await files('', TASKS)).tasks]).stdout, TASKS);
  const twice = cli(['render-userdata', '--nodeconfig', nested.nodeconfig, '--tasks', nested.tasks]);
  t.equal(twice.code, 2);
  t.match(twice.stderr, /is already MIME multipart user data/);
});

t.test('render-userdata --nodeconfig: what nodeadm cannot decode is exit 2, writing nothing', async (t) => {
  const nc = (s: string) => s;
  const cases: [string, string | Buffer, string][] = [
    ['a shell script', '#!/bin/bash\necho hi\n', 'it is not a mapping \\(a YAML or JSON document with apiVersion and kind\\), it is a string'],
    ['an empty file', '', 'it is empty'],
    ['another kind', nc('apiVersion: v1\nkind: Pod\n'), 'apiVersion is "v1"; nodeadm knows node\\.eks\\.aws/v1alpha1'],
    ['a version nodeadm does not know', nc('apiVersion: node.eks.aws/v1beta9\nkind: NodeConfig\n'), 'apiVersion is "node\\.eks\\.aws/v1beta9"; nodeadm knows node\\.eks\\.aws/v1alpha1'],
    ['the wrong kind', '{"apiVersion": "node.eks.aws/v1alpha1", "kind": "NodeConfigs"}', 'kind is "NodeConfigs"; expected NodeConfig'],
    ['no kind', 'apiVersion: node.eks.aws/v1alpha1\nspec: {}\n', 'kind is missing; expected NodeConfig'],
    ['malformed YAML', 'apiVersion: node.eks.aws/v1alpha1\nkind: [NodeConfig\n', 'not YAML or JSON: line \\d+: '],
    ['two documents', `${NODECONFIG}---\n${NODECONFIG}`, 'it holds 2 YAML documents; nodeadm reads only the first of a part'],
    ['a broken gzip', gzipSync(NODECONFIG).subarray(0, 20), 'it starts like gzip but does not decompress'],
  ];
  for (const [what, nodeconfig, why] of cases) {
    const f = await files(nodeconfig, TASKS);
    const r = cli(['render-userdata', '--nodeconfig', f.nodeconfig, '--tasks', f.tasks]);
    t.equal(r.code, 2, what);
    t.equal(r.stdout.length, 0, `${what}: nothing written`);
    t.match(r.stderr, new RegExp(`--nodeconfig \\S+nodeconfig\\.yaml: nodeadm cannot decode it as a NodeConfig: ${why}`), what);
  }
});

t.test('render-userdata --nodeconfig: what nodeadm decodes is taken without a warning (YAML, JSON, gzip, base64)', async (t) => {
  const json = JSON.stringify({ apiVersion: 'node.eks.aws/v1alpha1', kind: 'NodeConfig', spec: { cluster: { name: 'c' } } });
  const cases: [string, string | Buffer][] = [
    ['YAML', NODECONFIG],
    ['YAML after a leading ---, CRLF', `---\r\n${NODECONFIG.replace(/\n/g, '\r\n')}`],
    ['JSON', json],
    ['gzip', gzipSync(NODECONFIG)],
    ['base64 of gzip', Buffer.from(gzipSync(NODECONFIG).toString('base64'))],
    ['base64, wrapped', Buffer.from(NODECONFIG).toString('base64').replace(/.{76}/g, '$&\n')],
    ['quoted kind, a comment', `# from our CI\napiVersion: "node.eks.aws/v1alpha1"\nkind: 'NodeConfig'\nspec: {}\n`],
  ];
  for (const [what, nodeconfig] of cases) {
    const f = await files(nodeconfig, TASKS);
    const r = cli(['render-userdata', '--nodeconfig', f.nodeconfig, '--tasks', f.tasks]);
    t.equal(r.code, 0, `${what}: ${r.stderr}`);
    t.equal(r.stderr, '', `${what}: no warning`);
    const ud = parseUserData(r.stdout);
    t.ok(ud.multipart && ud.parts[0]!.body.equals(Buffer.from(nodeconfig)), `${what}: the part is the file, byte for byte`);
  }
});

t.test('validate takes the rendered user data: plain, gzip and base64 of gzip', async (t) => {
  const f = await files(NODECONFIG, TASKS);
  const mime = cli(['render-userdata', '--nodeconfig', f.nodeconfig, '--tasks', f.tasks]).stdout;
  const gz = cli(['render-userdata', '--nodeconfig', f.nodeconfig, '--tasks', f.tasks, '--gzip']).stdout;
  for (const [name, bytes] of [
    ['ud.mime', mime],
    ['ud.gz', gz],
    ['userdata.txt', Buffer.from(gz.toString('base64'))],
  ] as const) {
    await writeFile(join(f.dir, name), bytes);
    const r = cli(['validate', join(f.dir, name)]);
    t.equal(r.code, 0, name);
    t.match(r.stdout.toString(), /ok\s+\S+ \(1 task, user data\)/);
  }
  await writeFile(join(f.dir, 'broken.mime'), mime.toString().replace('args: [hi]', 'args: hi'));
  const r = cli(['validate', join(f.dir, 'broken.mime')]);
  t.equal(r.code, 2);
  t.match(r.stdout.toString(), /userdata:\S+broken\.mime:part\[1\]: tasks\[0\]\.exec\.args, line 5: expected a list of strings/);
  await writeFile(join(f.dir, 'script.b64'), Buffer.from('#!/bin/bash\necho hi\n').toString('base64'));
  const notMime = cli(['validate', join(f.dir, 'script.b64')]);
  t.equal(notMime.code, 2);
  t.match(notMime.stdout.toString(), /looks like user data \(gzip, base64 or MIME\) but is not MIME multipart/);
});
