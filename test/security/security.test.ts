// SECURITY.md, one test per claim that no other test already proves (the others are named there): no shell for
// tag or user-data values, private state and script files, and secrets (env values, file contents, ECR
// credentials) never in the logs or the state, checked by grepping everything real runs wrote.
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { joinWords } from '../../src/sources/shell-words.js';
import { startImdsServer } from '../emulators/imds-server.js';
import { startEcrServer } from '../emulators/ecr-server.js';
import { buildImage, pushImage, removeDir, requireRootAndBins, startContainerd, startRegistry, tempDir } from '../harness/index.js';
import { logLines, runCli, taskList, workspace } from '../helpers/cli.js';
import { fakeNode } from '../helpers/fake-node.js';
import { HEADER } from '../helpers/plan.js';

/** Everything a shell would act on; none of it may be acted on. `pwned` files prove it if it were. */
const hostile = (dir: string) => [`$(touch ${dir}/pwned-1)`, `\`touch ${dir}/pwned-2\``, ';', `touch ${dir}/pwned-3`, '|', '&&', '>', `${dir}/pwned-4`, '*', '$HOME', "it's", '"q"', '\\'];

/** A program that writes the argv it received, so the test sees exactly what arrived. */
const argvWriter = (out: string) => [process.execPath, '-e', `require("fs").writeFileSync(${JSON.stringify(out)},JSON.stringify(process.argv.slice(1)))`];

t.test('no shell: exec arguments from a task file, user data and a tag reach the program verbatim, and nothing they say is run', async (t) => {
  const imds = await startImdsServer({});
  t.teardown(imds.close);
  // The tag's value has to stay within EC2's 256 characters, so its arguments are a short subset.
  const node = await fakeNode({ imds: imds.url, config: 'sources: [file, userdata, tags]\npolicy: { tags: { allow: [exec] } }\n' });
  const dir = node.dir;
  const tasksDir = join(dir, 'tasks.d');
  await mkdir(tasksDir);
  await writeFile(node.configPath, `readiness: { units: [], kubeletHealthz: null, containerd: false }\nsources: [file, userdata, tags]\ntasksDir: ${tasksDir}\npolicy: { tags: { allow: [exec] } }\n`);
  const args = hostile(dir);
  const exec = (out: string) => {
    const [command, ...rest] = argvWriter(join(dir, out));
    return JSON.stringify({ command, args: [...rest, ...args] });
  };
  await writeFile(join(tasksDir, '10.yaml'), taskList(`  - { name: from-file, exec: ${exec('file.json')} }\n`));
  imds.state.userData = `MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=B\n\n--B\nContent-Type: application/postjoin+yaml\n\n${HEADER}tasks:\n  - { name: from-userdata, exec: ${exec('ud.json')} }\n--B--\n`;
  const tagArgs = ['$(id)', ';', '`id`', '|', '*', `>${dir}/pwned-5`];
  imds.state.tags = { 'postjoin:30-from-tag': joinWords(['exec', ...argvWriter(join(dir, 'tag.json')), ...tagArgs]) };
  t.ok(imds.state.tags['postjoin:30-from-tag']!.length <= 256, 'the tag value fits EC2\'s limit');
  const r = await node.cli(['run']);
  t.equal(r.code, 0, r.stdout.slice(-2000));
  const argvOf = async (f: string) => JSON.parse(await readFile(join(dir, f), 'utf8')) as string[];
  t.same((await argvOf('file.json')).slice(-args.length), args, 'task file: argv verbatim');
  t.same((await argvOf('ud.json')).slice(-args.length), args, 'user data: argv verbatim');
  t.same((await argvOf('tag.json')).slice(-tagArgs.length), tagArgs, 'tag: argv verbatim');
  t.same((await readdir(dir)).filter((f) => f.startsWith('pwned')), [], 'nothing in the arguments was run or redirected');
});

t.test('the state dir is 0700 (tightened if it existed wider) and state.json 0600 after a real run; no temporary file is left', async (t) => {
  const ws = await workspace();
  await mkdir(ws.stateDir, { mode: 0o755 });
  await ws.task('10.yaml', taskList('  - { name: a, exec: { command: /bin/true } }\n'));
  const r = await runCli(['run', '--config', ws.configPath, '--state-dir', ws.stateDir]);
  t.equal(r.code, 0);
  t.equal((await stat(ws.stateDir)).mode & 0o777, 0o700);
  t.equal((await stat(join(ws.stateDir, 'state.json'))).mode & 0o777, 0o600);
  t.same((await readdir(ws.stateDir)).sort(), ['lock.key', 'state.json'], 'no temporary state file and no lock left behind');
  t.equal((await stat(join(ws.stateDir, 'lock.key'))).mode & 0o777, 0o600, 'the key that names the run lock is root-only');
});

t.test('a script body runs from a private directory: 0700, randomly named, the file 0600, all removed afterwards', async (t) => {
  const ws = await workspace();
  const probe = 'd=$(dirname "$0"); echo "dir=$d mode=$(stat -c %a "$d") owner=$(stat -c %U "$d") file=$(stat -c %a "$0")"';
  await ws.task('10.yaml', taskList(`  - { name: s1, once: false, script: ${JSON.stringify(probe)} }\n  - { name: s2, once: false, script: ${JSON.stringify(probe)} }\n`));
  const r = await runCli(['run', '--config', ws.configPath, '--state-dir', ws.stateDir]);
  t.equal(r.code, 0, r.stdout);
  const seen = logLines(r.stdout).filter((l) => typeof l.stream === 'string').map((l) => String(l.msg));
  t.equal(seen.length, 2);
  const dirs: string[] = [];
  for (const line of seen) {
    const m = /^dir=(\S+) mode=(\d+) owner=(\S+) file=(\d+)$/.exec(line);
    t.ok(m, line);
    if (!m) continue;
    t.match(m[1], /\/postjoin-script-[A-Za-z0-9]{6}$/, 'a mkdtemp name: random, created exclusively');
    t.equal(m[2], '700');
    t.equal(m[4], '600');
    t.equal(m[3], process.getuid?.() === 0 ? 'root' : m[3]);
    dirs.push(m[1]!);
  }
  t.not(dirs[0], dirs[1], 'each script gets a directory of its own');
  for (const d of dirs) await t.rejects(stat(d), `${d} was removed`);
});

const SECRET = 'hunter2-7f3a9c-never-in-a-log';

t.test('env values and file contents are never logged or stored: every line of plan, run (debug), status and state is grepped', async (t) => {
  const ws = await workspace();
  const encoded = Buffer.from(SECRET).toString('base64');
  await ws.task(
    '10.yaml',
    taskList(`  - { name: ok, env: { TOKEN: ${SECRET} }, exec: { command: /bin/sh, args: [-c, 'test -n "$TOKEN"'] } }
  - { name: flaky, env: { TOKEN: ${SECRET} }, retries: 1, retryDelay: 10ms, onFailure: continue, exec: { command: /bin/sh, args: [-c, 'echo failing >&2; exit 3'] } }
  - { name: timeout, env: { TOKEN: ${SECRET} }, timeout: 200ms, onFailure: continue, exec: { command: /bin/sleep, args: ["5"] } }
  - name: group
    parallel: { tasks: [ { name: member, env: { TOKEN: ${SECRET} }, exec: { command: /bin/true } } ] }
  - { name: secret-file, file: { path: ${ws.dir}/out/creds, content: ${SECRET}, mode: "0600" } }
  - { name: secret-file-b64, file: { path: ${ws.dir}/out/creds2, content: ${encoded}, encoding: base64 } }
`),
  );
  const outputs: [string, string][] = [];
  const keep = (what: string, r: { stdout: string; stderr: string }) => outputs.push([`${what} stdout`, r.stdout], [`${what} stderr`, r.stderr]);
  keep('plan', await runCli(['plan', '--config', ws.configPath, '--log-level', 'trace']));
  keep('plan --output json', await runCli(['plan', '--config', ws.configPath, '--output', 'json', '--log-level', 'trace']));
  const run = await runCli(['run', '--config', ws.configPath, '--state-dir', ws.stateDir, '--log-level', 'trace']);
  t.equal(run.code, 0, run.stdout.slice(-2000));
  keep('run', run);
  keep('status', await runCli(['status', '--state-dir', ws.stateDir]));
  keep('status --output json', await runCli(['status', '--state-dir', ws.stateDir, '--output', 'json']));
  keep('validate', await runCli(['validate', join(ws.tasksDir, '10.yaml'), '--log-level', 'trace']));
  for (const f of await readdir(ws.stateDir)) outputs.push([`state dir ${f}`, await readFile(join(ws.stateDir, f), 'utf8')]);
  t.ok(logLines(run.stdout).length > 20, 'the run logged plenty at trace level');
  for (const [where, text] of outputs) {
    t.notOk(text.includes(SECRET), `${where}: the secret does not appear`);
    t.notOk(text.includes(encoded), `${where}: nor its base64`);
  }
  t.equal(await readFile(join(ws.dir, 'out/creds'), 'utf8'), SECRET, 'the file task did write it');
  // With --show-secrets, plan prints them: the one deliberate way to see them.
  t.match((await runCli(['plan', '--config', ws.configPath, '--output', 'json', '--show-secrets'])).stdout, SECRET);
});

t.test('an env value Node cannot pass (it holds a NUL) is refused before anything runs, without echoing the value', async (t) => {
  // Node's spawn refuses such a value with a message that quotes it ("Received 'hunter2\\x00…'"), which used to
  // reach the journal and the state file as the task's error.
  const ws = await workspace();
  await ws.task('10.yaml', taskList(`  - { name: nul, onFailure: continue, env: { TOKEN: "${SECRET}\\0tail" }, exec: { command: /bin/true } }\n`));
  const r = await runCli(['run', '--config', ws.configPath, '--state-dir', ws.stateDir]);
  t.equal(r.code, 2, 'invalid input: no task was started');
  t.ok(logLines(r.stdout).some((l) => l.level === 'error' && /tasks\[0\]\.env\.TOKEN, line \d+: environment variable values must not contain NUL$/.test(String(l.msg))), 'the problem names the variable and its line');
  const everything = [r.stdout, r.stderr, ...(await Promise.all((await readdir(ws.stateDir)).map((f) => readFile(join(ws.stateDir, f), 'utf8'))))].join('\n');
  t.notOk(everything.includes(SECRET), 'the value appears nowhere');
});

t.test('a script whose body holds a NUL is refused before anything runs: exit 2, not 126 at run time', async (t) => {
  const ws = await workspace();
  const marker = join(ws.dir, 'first-ran');
  await ws.task('10.yaml', taskList(`  - { name: first, exec: { command: /bin/touch, args: [${marker}] } }\n  - { name: nul, script: "echo ${SECRET}\\0" }\n`));
  const r = await runCli(['run', '--config', ws.configPath, '--state-dir', ws.stateDir]);
  t.equal(r.code, 2, 'invalid input: no task was started');
  t.ok(logLines(r.stdout).some((l) => l.level === 'error' && /tasks\[1\]\.script, line \d+: the script body holds a NUL character \(line 1 of the body, character \d+\)/.test(String(l.msg))), 'the problem names the task and where');
  t.notOk(existsSync(marker), 'not even the task before it ran');
  t.notOk([r.stdout, r.stderr].join('\n').includes(SECRET), 'the body is not echoed');
});

t.test('ECR credentials are never logged or stored: a private-ECR pull through the bundle at trace level, every output grepped', async (t) => {
  if (!(await requireRootAndBins(t, { containerd: 'containerd', ctr: 'containerd', 'docker-registry': 'docker-registry', skopeo: 'skopeo', perl: 'perl-base' }))) return;
  const PASSWORD = 'ecr-password-5d2e-never-in-a-log';
  const ECR = '111122223333.dkr.ecr.us-west-2.amazonaws.com';
  const ecr = await startEcrServer({ password: PASSWORD });
  t.teardown(ecr.close);
  const reg = await startRegistry({ auth: { user: 'AWS', password: PASSWORD } });
  t.teardown(reg.stop);
  const ctd = await startContainerd();
  t.teardown(ctd.stop);
  const work = await tempDir('img');
  t.teardown(() => removeDir(work));
  await mkdir(join(ctd.hostsDir, ECR), { recursive: true });
  await writeFile(join(ctd.hostsDir, ECR, 'hosts.toml'), `server = "http://${reg.host}"\n\n[host."http://${reg.host}"]\n  capabilities = ["pull", "resolve"]\n`);
  const pushed = await pushImage(work, await buildImage(work, { name: 'sec/app', tag: '1', index: 900 }), reg.host, { creds: reg.auth });
  const ws = await workspace();
  await writeFile(
    ws.configPath,
    `sources: [file]\ntasksDir: ${ws.tasksDir}\nimds: { enabled: false }\ncontainerd: { socket: ${ctd.socket} }\nreadiness: { timeout: 30s, units: [], kubeletHealthz: null, containerd: true }\n`,
  );
  // One image that pulls, one that does not exist (an error path that could echo the credentials).
  await ws.task('10.yaml', taskList(`  - { name: from-ecr, onFailure: continue, pull: { images: [${ECR}/${pushed.name}:1, ${ECR}/sec/missing:9] } }\n`));
  const env = {
    AWS_ENDPOINT_URL_ECR: ecr.url,
    AWS_ACCESS_KEY_ID: 'AKIDPOSTJOINSEC',
    AWS_SECRET_ACCESS_KEY: 'aws-secret-key-never-in-a-log',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_CONFIG_FILE: '/nonexistent/postjoin-aws-config',
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/postjoin-aws-credentials',
  };
  const r = await runCli(['run', '--config', ws.configPath, '--state-dir', ws.stateDir, '--log-level', 'trace'], { env });
  t.equal(r.code, 0, r.stdout.slice(-2000));
  t.equal(ecr.tokenCalls().length, 1, 'the token was fetched and used');
  const lines = logLines(r.stdout);
  t.ok(lines.some((l) => l.image === `${ECR}/${pushed.name}:1` && l.pulled === true), 'the ECR image was pulled with the token');
  t.ok(lines.some((l) => typeof l.msg === 'string' && l.msg.includes('sec/missing:9')), 'the failing image is reported');
  const token = Buffer.from(`AWS:${PASSWORD}`).toString('base64');
  const outputs: [string, string][] = [['run stdout', r.stdout], ['run stderr', r.stderr]];
  for (const f of await readdir(ws.stateDir)) outputs.push([`state dir ${f}`, await readFile(join(ws.stateDir, f), 'utf8')]);
  for (const [where, text] of outputs) {
    for (const [what, s] of [['the password', PASSWORD], ['the ECR token', token], ['the AWS secret key', env.AWS_SECRET_ACCESS_KEY]] as const) t.notOk(text.includes(s), `${where}: ${what} does not appear`);
  }
});
