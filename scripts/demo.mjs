// `npm start`: the whole node story on a simulated node, in seconds, with nothing but Node. The node (forked from
// dist/demo-world.cjs, built by scripts/build-demo.mjs) has IMDS with user data and instance tags, a kubelet whose
// /healthz turns healthy a second after it is first asked, and a Kubernetes API stand-in holding its Node, all on
// 127.0.0.1. The agent (the built bundle) runs on examples/demo twice in a temporary state dir: a first boot, then a
// reboot that skips the once tasks and reports again. Shown: the plan, the journal, the Node before and after
// (condition, label, event), and `postjoin status`.
import { fork, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const bundle = join(root, 'dist/postjoin.cjs');
const examples = join(root, 'examples/demo');
const work = mkdtempSync(join(tmpdir(), 'postjoin-demo-'));
const stateDir = join(work, 'state');
const config = join(work, 'config.yaml');
rmSync('/tmp/postjoin-demo', { recursive: true, force: true });

const bold = (s) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
const dim = (s) => (process.stdout.isTTY ? `\x1b[2m${s}\x1b[0m` : s);

// The simulated node, and a way to ask it things.
const world = fork(join(root, 'dist/demo-world.cjs'), [work, examples], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
const replies = [];
const waiting = [];
world.on('message', (m) => (waiting.length ? waiting.shift()(m) : replies.push(m)));
const next = () => new Promise((r) => (replies.length ? r(replies.shift()) : waiting.push(r)));
const ask = (type) => (world.send({ type }), next());
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
  const { node: n, events } = await ask('node');
  console.log(bold(`\n$ kubectl describe node ${n.metadata.name}`) + dim(`   # ${when}; read from the API stand-in`));
  const labels = Object.entries(n.metadata.labels).filter(([k]) => k.startsWith('postjoin.io/'));
  console.log(`  Labels:     ${labels.map(([k, v]) => `${k}=${v}`).join(', ')}`);
  console.log(`  Taints:     ${(n.spec.taints ?? []).map((t) => `${t.key}=${t.value}:${t.effect}`).join(', ') || '<none>'}`);
  const conditions = n.status.conditions.map((c) => [c.type, c.status, c.reason, c.message]);
  console.log(`  Conditions:\n${table([['Type', 'Status', 'Reason', 'Message'], ...conditions])}`);
  const rows = events.map((e) => [e.type, e.reason, e.reportingController, e.note]);
  console.log(`  Events:${rows.length ? `\n${table([['Type', 'Reason', 'From', 'Message'], ...rows])}` : '     <none>'}`);
}

try {
  console.log(bold('A simulated EKS node, all on 127.0.0.1:'));
  console.log(`  IMDS ${node.imds}: user data with a postjoin part (examples/demo/userdata.mime), tags (examples/demo/tags.json)`);
  console.log(`  kubelet ${node.kubeletHealthz}: healthy one second after it is first asked`);
  console.log(`  Kubernetes API ${node.apiServer}: the Node ${node.node}, registered with a startup taint`);
  await showNode('before the first boot');

  console.log(bold(`\n$ postjoin plan --config ${config}`));
  process.stdout.write(run(['plan', '--config', config]).stdout);

  for (const [i, pass] of ['first boot', 'reboot: once tasks are skipped, the Node is told again'].entries()) {
    await ask('boot');
    console.log(bold(`\n$ postjoin run`) + dim(`   # ${pass}`));
    const r = run(['run', '--config', config, '--state-dir', stateDir]);
    showLogs(r.stdout);
    console.log(`  exit code ${r.status}`);
    if (r.status !== 0) process.exitCode = 1;
    if (i === 0) await showNode('after the first boot');
  }
  console.log(dim('\n  The taint stays until node-readiness-controller sees postjoin.io/Ready=True and removes it (packaging/examples/cluster-handoff).'));

  console.log(bold(`\n$ postjoin status --state-dir ${stateDir}`));
  process.stdout.write(run(['status', '--state-dir', stateDir]).stdout);
  console.log(`\nState: ${stateDir}/state.json   Files written: /tmp/postjoin-demo/`);
} finally {
  world.send({ type: 'stop' });
  world.disconnect();
}
