// `npm start`: the whole node story on a simulated node, in seconds, with nothing but Node. The node (forked from
// dist/demo-world.cjs, built by scripts/build-demo.mjs) has IMDS with user data and instance tags, a kubelet whose
// /healthz turns healthy a second after it is first asked, a Kubernetes API stand-in holding its Node with the
// recipe's startup taint, and a simulated node-readiness-controller, all on 127.0.0.1. The agent (the built bundle)
// runs on a copy of examples/demo in this run's own work dir: a first boot (the taint comes off once the Node says
// postjoin.io/Ready=True), then a reboot during which the API server goes down just as the result is reported, so
// the report stays pending until `postjoin report` delivers it. Shown: the plan, the journal, the Node, `status`.
import { fork, spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const bundle = join(root, 'dist/postjoin.cjs');
const work = mkdtempSync(join(tmpdir(), 'postjoin-demo-'));
const stateDir = join(work, 'state');
const config = join(work, 'config.yaml');
const files = join(work, 'files');
mkdirSync(files);

// The examples, with the paths their tasks write to moved into this run's work dir: two demos at once never meet.
const examples = join(work, 'demo');
cpSync(join(root, 'examples/demo'), examples, { recursive: true });
for (const f of ['tags.json', ...readdirSync(join(examples, 'tasks.d')).map((n) => join('tasks.d', n))]) {
  const p = join(examples, f);
  writeFileSync(p, readFileSync(p, 'utf8').replaceAll('/tmp/postjoin-demo', files));
}

const bold = (s) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
const dim = (s) => (process.stdout.isTTY ? `\x1b[2m${s}\x1b[0m` : s);

// The simulated node, and a way to ask it things.
const world = fork(join(root, 'dist/demo-world.cjs'), [work, examples], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
const replies = [];
const waiting = [];
world.on('message', (m) => (waiting.length ? waiting.shift()(m) : replies.push(m)));
const next = () => new Promise((r) => (replies.length ? r(replies.shift()) : waiting.push(r)));
const ask = (type, extra = {}) => (world.send({ type, ...extra }), next());
const node = await next();

writeFileSync(
  config,
  readFileSync(join(examples, 'config.yaml'), 'utf8')
    .replace('./tasks.d', join(examples, 'tasks.d'))
    .replace('KUBELET_HEALTHZ', node.kubeletHealthz)
    .replace('KUBECONFIG', node.kubeconfig)
    .replace('NODE_NAME', node.node),
);
// IMDS is the emulator (never 169.254.169.254), and the AWS SDK sees nothing of this machine's AWS setup.
const env = {
  ...process.env,
  JOURNAL_STREAM: '',
  AWS_EC2_METADATA_SERVICE_ENDPOINT: node.imds,
  AWS_ENDPOINT_URL_EC2: 'http://127.0.0.1:9',
  AWS_ENDPOINT_URL_ECR: 'http://127.0.0.1:9',
  AWS_CONFIG_FILE: join(work, 'no-aws-config'),
  AWS_SHARED_CREDENTIALS_FILE: join(work, 'no-aws-credentials'),
  AWS_ACCESS_KEY_ID: '',
  AWS_SECRET_ACCESS_KEY: '',
  AWS_SESSION_TOKEN: '',
  AWS_PROFILE: '',
};
const run = (args) => spawnSync(process.execPath, [bundle, ...args], { encoding: 'utf8', env });
/** `postjoin run` as the unit runs it, asynchronously, so the world can go on answering while it runs. */
const runAgent = () =>
  new Promise((done) => {
    const child = spawn(process.execPath, [bundle, 'run', '--config', config, '--state-dir', stateDir], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    child.on('close', (status) => done({ status, stdout, stderr }));
  });

/** The agent writes pino JSON (the journal's form); here each line is shown compactly. */
function showLogs(stdout) {
  for (const line of stdout.split('\n').filter(Boolean)) {
    const r = JSON.parse(line);
    const who = r.task ? `[${r.task}${r.stream ? ` ${r.stream}` : ''}] ` : '';
    console.log(`  ${r.time.slice(11, 23)} ${r.level.padEnd(5)} ${who}${r.msg}`);
  }
}

const table = (rows) => {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => `    ${r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ')}`).join('\n');
};

/** The Node as `kubectl describe node` shows it, in short, read from the API stand-in. */
async function showNode(when) {
  const { node: n, events, controller } = await ask('node');
  console.log(bold(`\n$ kubectl describe node ${n.metadata.name}`) + dim(`   # ${when}; read from the API stand-in`));
  const labels = Object.entries(n.metadata.labels).filter(([k]) => k.startsWith('postjoin.io/'));
  console.log(`  Labels:       ${labels.map(([k, v]) => `${k}=${v}`).join(', ')}`);
  const done = Object.keys(n.metadata.annotations ?? {}).filter((k) => k.startsWith('readiness.k8s.io/'));
  if (done.length) console.log(`  Annotations:  ${done.join(', ')}`);
  console.log(`  Taints:       ${(n.spec.taints ?? []).map((t) => `${t.key}=${t.value}:${t.effect}`).join(', ') || '<none>'}`);
  const conditions = n.status.conditions.map((c) => [c.type, c.status, c.reason, c.message]);
  console.log(`  Conditions:\n${table([['Type', 'Status', 'Reason', 'Message'], ...conditions])}`);
  const rows = events.map((e) => [e.type, e.reason, e.reportingController, e.note]);
  console.log(`  Events:${rows.length ? `\n${table([['Type', 'Reason', 'From', 'Message'], ...rows])}` : '       <none>'}`);
  for (const a of controller) console.log(dim(`  (simulated node-readiness-controller, ${a.at.slice(11, 23)}: ${a.what})`));
}

const shown = (args, text) => {
  console.log(bold(`\n$ postjoin ${args.join(' ')}`) + (text ? dim(`   # ${text}`) : ''));
  const r = run(args);
  process.stdout.write(r.stdout);
  return r;
};

try {
  console.log(bold('A simulated EKS node, all on 127.0.0.1:'));
  console.log(`  IMDS ${node.imds}: user data with a postjoin part (examples/demo/userdata.mime), tags (examples/demo/tags.json)`);
  console.log(`  kubelet ${node.kubeletHealthz}: healthy one second after it is first asked`);
  console.log(`  Kubernetes API ${node.apiServer}: the Node ${node.node}, registered with a startup taint`);
  console.log(`  a simulated node-readiness-controller: its rule removes the taint once postjoin.io/Ready is True`);
  console.log(dim(`  the agent runs on a copy of examples/demo in ${work}`));
  await showNode('before the first boot');

  shown(['plan', '--config', config]);

  await ask('boot');
  console.log(bold(`\n$ postjoin run`) + dim('   # first boot'));
  const first = await runAgent();
  showLogs(first.stdout);
  console.log(`  exit code ${first.status}`);
  if (first.status !== 0) process.exitCode = 1;
  await showNode('after the first boot: pods may land now');

  await ask('boot', { apiDownAtFinal: true });
  console.log(bold(`\n$ postjoin run`) + dim('   # reboot: once tasks are skipped; the API server goes down just as the result is reported'));
  const second = await runAgent();
  showLogs(second.stdout);
  console.log(`  exit code ${second.status}`);
  if (second.status !== 0) process.exitCode = 1;

  shown(['status', '--state-dir', stateDir], 'the result is saved; the report is pending');
  await ask('api-up');
  console.log(dim('\n  ... the API server is back. The Node still says what the reboot said first:'));
  await showNode('the reboot\'s result never reached it');
  const report = shown(['report', '--config', config, '--state-dir', stateDir], 'on a node, postjoin-report.service runs this itself, with backoff, for up to an hour');
  if (report.status !== 0) process.exitCode = 1;
  await showNode('after postjoin report');

  shown(['status', '--state-dir', stateDir]);
  console.log(`\nState: ${stateDir}/state.json   Files written: ${files}/`);
} finally {
  world.send({ type: 'stop' });
  world.disconnect();
}
