// The `wait` task kind: exactly one of url/file/unit, policy for units, and each wait through the runner,
// including what the timeout message says it was stuck on.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { createHost } from '../../src/host/host.js';
import { connectSystemd } from '../../src/host/systemd/systemd.js';
import { standinFor } from '../emulators/systemd1-standin.js';
import { removeDir, tempDir } from '../harness/proc.js';
import { HEADER, config, planFrom, planProblems } from '../helpers/plan.js';
import { runRecorded } from '../helpers/run-plan.js';

const noHost = createHost({ connectSystemd: () => Promise.reject(new Error('this test must not touch D-Bus')) });

/** Problems as `at: message`, without the source and line these tests do not vary. */
const problems = (yaml: string, cfg = config()) => planProblems(yaml, cfg, (p) => `${p.at ?? ''}: ${p.message}`);

const task = (spec: string, extra = '') => `${HEADER}tasks:\n  - { name: w${extra}, wait: ${spec} }\n`;

t.test('validation: exactly one of url, file, unit; interval is a duration', async (t) => {
  t.same(problems(task('{ url: "http://127.0.0.1:4317/" }')), []);
  t.same(problems(task('{ file: /run/agent.sock, interval: 250ms }')), []);
  t.same(problems(task('{ unit: amazon-ssm-agent.service }')), []);
  t.same(problems(task('{}')), ['tasks[0].wait: wait needs exactly one of url, file or unit; none was given']);
  t.same(problems(task('{ url: "http://x/", file: /x }')), ['tasks[0].wait: wait needs exactly one of url, file or unit; got url and file']);
  t.same(problems(task('{ url: "ftp://x/" }')), ['tasks[0].wait.url: expected an http(s) URL']);
  t.same(problems(task('{ file: relative/path }')), ['tasks[0].wait.file: wait.file must be an absolute path (start with "/")']);
  t.same(problems(task('{ unit: kubelet }')), ['tasks[0].wait.unit: "kubelet" has no unit type; write the full name, e.g. "kubelet.service"']);
  t.match(problems(task('{ file: /x, interval: 5 }')), [/tasks\[0\]\.wait\.interval: expected a duration string/]);
  t.same(problems(task('{ file: /x, interval: 1ms }')), ['tasks[0].wait.interval: interval must be at least 10ms']);
  t.match(problems(task('{ file: /x, every: 1s }')), [/every/]);
});

t.test('policy.units applies to wait: {unit} only', async (t) => {
  const cfg = config({ policy: { units: ['amazon-*'] } });
  t.same(problems(task('{ unit: sshd.service }'), cfg), [': task "w": unit "sshd.service" is not allowed by policy.units [amazon-*]']);
  t.same(problems(task('{ unit: amazon-ssm-agent.service }'), cfg), []);
  t.same(problems(task('{ file: /etc/sshd.service }'), cfg), []);
});

t.test('wait: {file} and {url} succeed once the condition holds, and say what they saw', async (t) => {
  const dir = await tempDir('wait');
  t.teardown(() => removeDir(dir));
  const file = join(dir, 'agent.sock');
  setTimeout(() => void writeFile(file, ''), 150);
  let answers = 0;
  const srv = createServer((_req, res) => {
    res.statusCode = ++answers < 3 ? 503 : 204;
    res.end();
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise((r) => srv.close(r)));
  const url = `http://127.0.0.1:${(srv.address() as AddressInfo).port}/ready`;
  const r = await runRecorded(
    planFrom(`${HEADER}tasks:\n  - { name: f, wait: { file: ${file}, interval: 20ms } }\n  - { name: u, wait: { url: "${url}", interval: 20ms } }\n`),
    { host: noHost },
  );
  t.equal(r.outcome.exitCode, 0, r.errors.join('\n'));
  const msgs = r.messages();
  t.ok(msgs.includes(`waiting for ${file} to exist: does not exist`));
  t.ok(msgs.some((m) => m.startsWith(`done waiting for ${file} to exist: exists after `)));
  t.ok(msgs.includes(`waiting for ${url} to answer 2xx: HTTP 503`));
  t.ok(msgs.some((m) => m.startsWith(`done waiting for ${url} to answer 2xx: HTTP 204 after `)));
  t.equal(msgs.filter((m) => m === `waiting for ${url} to answer 2xx: HTTP 503`).length, 1, 'an unchanged observation is logged once');
});

t.test('at the task timeout the error says what the wait last saw', async (t) => {
  const dir = await tempDir('wait');
  t.teardown(() => removeDir(dir));
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as AddressInfo).port;
  await new Promise((r) => srv.close(r));
  const r = await runRecorded(
    planFrom(`${HEADER}tasks:
  - { name: f, timeout: 200ms, onFailure: continue, wait: { file: ${dir}/never, interval: 20ms } }
  - { name: u, timeout: 200ms, wait: { url: "http://127.0.0.1:${port}/", interval: 20ms } }
`),
    { host: noHost },
  );
  t.equal(r.outcome.exitCode, 1);
  t.ok(r.records.some((x) => x.level === 'warn' && x.msg === `task f (1/2) failed, continuing (onFailure: continue): timed out after 200ms (still waiting for ${dir}/never to exist; last seen: does not exist)`), r.messages().join('\n'));
  t.same(r.errors, [`task u (2/2) failed: timed out after 200ms (still waiting for http://127.0.0.1:${port}/ to answer 2xx; last seen: connection refused)`]);
});

t.test('wait: {unit} is woken by the unit turning active; the timeout names its last state', async (t) => {
  const s = await standinFor(t);
  if (!s) return;
  s.unit('agent.service', { activeState: 'activating', subState: 'start' });
  s.unit('never.service', { activeState: 'failed', subState: 'failed', result: 'exit-code' });
  const host = createHost({ connectSystemd: () => connectSystemd({ address: s.bus.address }) });
  t.teardown(() => host.close());
  setTimeout(() => s.setState('agent.service', 'active'), 200);
  const t0 = Date.now();
  // A 1 h interval: only the PropertiesChanged signal can end this wait in time.
  const ok = await runRecorded(planFrom(task('{ unit: agent.service, interval: 1h }', '')), { host });
  t.equal(ok.outcome.exitCode, 0, ok.errors.join('\n'));
  t.ok(Date.now() - t0 < 30_000);
  t.ok(ok.messages().includes('waiting for agent.service to be active: activating/start'));
  t.ok(ok.messages().some((m) => m.startsWith('done waiting for agent.service to be active: active/running after ')));

  const bad = await runRecorded(planFrom(`${HEADER}tasks:\n  - { name: w, timeout: 300ms, wait: { unit: never.service } }\n`), { host });
  t.same(bad.errors, ['task w (1/1) failed: timed out after 300ms (still waiting for never.service to be active; last seen: failed/failed (Result=exit-code))']);
});
