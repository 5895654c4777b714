// Fault injection, IMDS: the real bundle runs with user-data and tag sources against the IMDS emulator behind a
// fault proxy, which hangs, stalls or refuses chosen requests in the middle of the run. Each case has one verdict:
// the run still gets its whole plan and runs it (or, down past the budget, exits 4), within a bound.
// (5xx bursts and IMDS down past imds.budget are also covered at the client level: test/host/aws/imds-client.test.ts.)
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { startImdsServer, type ImdsEmulator } from '../emulators/imds-server.js';
import { logLines } from '../helpers/cli.js';
import { fakeNode } from '../helpers/fake-node.js';
import { startFaultProxy, type ProxyFault, type ProxiedRequest } from '../helpers/fault-proxy.js';
import { HEADER } from '../helpers/plan.js';

const USER_DATA = '/latest/user-data';
const TAGS = '/latest/meta-data/tags/instance';

function userData(marker: string): string {
  return `MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="B"\n\n--B\nContent-Type: application/postjoin+yaml\n\n${HEADER}tasks:\n  - name: from-userdata\n    exec: { command: /bin/sh, args: [-c, "echo ran >> ${marker}"] }\n--B--\n`;
}

/** An emulated instance with a user-data task and a tag task, IMDS behind a proxy that applies `decide`. */
async function world(t: { teardown(fn: () => unknown): void }, decide: (r: Omit<ProxiedRequest, 'fault'>) => ProxyFault, budget = '30s') {
  const imds: ImdsEmulator = await startImdsServer({ tags: { 'postjoin:20-marker': 'wait file /' } });
  const proxy = await startFaultProxy(imds.url, decide);
  t.teardown(() => Promise.all([proxy.close(), imds.close()]));
  const node = await fakeNode({ imds: proxy.url, config: `sources: [userdata, tags]\nimds: { budget: ${budget} }\n` });
  const marker = join(node.dir, 'ran');
  imds.state.userData = userData(marker);
  return { imds, proxy, node, marker };
}

async function ranWholePlan(t: Test, w: Awaited<ReturnType<typeof world>>, r: { code: number | null; stdout: string }) {
  t.equal(r.code, 0, r.stdout.slice(-2000));
  t.equal(await readFile(w.marker, 'utf8'), 'ran\n', 'the user-data task ran once');
  const status = JSON.parse((await w.node.cli(['status', '--output', 'json'])).stdout) as { result: string; tasks: { name: string; status: string }[] };
  t.same(status.tasks.map((x) => [x.name, x.status]), [['from-userdata', 'succeeded'], ['20-marker', 'succeeded']], 'both sources\' tasks ran');
  t.ok(w.proxy.requests.filter((q) => q.method === 'GET').every((q) => typeof q.headers['x-aws-ec2-metadata-token'] === 'string'), 'every GET carried a session token');
}

t.test('IMDS hangs on a read past the 3 s request timeout: that attempt is abandoned, the retry answers, the run completes', async (t) => {
  const w = await world(t, (q) => (q.method === 'GET' && q.path === USER_DATA && q.nth === 1 ? { kind: 'hang' } : { kind: 'pass' }));
  const started = Date.now();
  const r = await w.node.cli(['run']);
  const took = Date.now() - started;
  await ranWholePlan(t, w, r);
  t.ok(took >= 3_000 && took < 15_000, `took ${took} ms: one 3 s request timeout, then the retry`);
  t.ok(logLines(r.stdout).some((l) => l.level === 'warn' && /^IMDS \/latest\/user-data: no answer within 3s; retrying within imds.budget$/.test(String(l.msg))), 'the hang is a warning in the journal');
  t.equal(w.proxy.requests.filter((q) => q.path === USER_DATA).length, 2);
});

t.test('IMDS stalls in the middle of an answer\'s body: the request timeout covers the whole exchange', async (t) => {
  const w = await world(t, (q) => (q.method === 'GET' && q.path === TAGS && q.nth === 1 ? { kind: 'stall-body' } : { kind: 'pass' }));
  const started = Date.now();
  const r = await w.node.cli(['run']);
  await ranWholePlan(t, w, r);
  t.ok(Date.now() - started < 15_000);
  t.ok(logLines(r.stdout).some((l) => l.level === 'warn' && /^IMDS \/latest\/meta-data\/tags\/instance: no answer within 3s/.test(String(l.msg))));
});

t.test('the session token is refused (401) in the middle of the run: a fresh token is taken once and the run goes on', async (t) => {
  // The 1st GET (instance ID or user data) gets through; the 2nd finds its token rejected, as after an IMDS restart.
  let gets = 0;
  const w = await world(t, (q) => (q.method === 'GET' && ++gets === 2 ? { kind: 'status', status: 401 } : { kind: 'pass' }));
  const r = await w.node.cli(['run']);
  await ranWholePlan(t, w, r);
  t.equal(w.imds.tokensIssued(), 2, 'one token before the 401, one after');
  t.equal(w.proxy.requests.filter((q) => q.method === 'PUT').length, 2);
});

t.test('5xx bursts on several paths in the middle of the run are retried; the run completes', async (t) => {
  const w = await world(t, (q) => (q.method === 'GET' && q.nth <= 3 && (q.path === USER_DATA || q.path.startsWith(`${TAGS}/`)) ? { kind: 'status', status: q.nth === 2 ? 500 : 503 } : { kind: 'pass' }));
  const r = await w.node.cli(['run']);
  await ranWholePlan(t, w, r);
  t.equal(w.proxy.requests.filter((q) => q.fault === 'status').length, 6, 'three 5xx for the user data, three for the tag value');
});

t.test('IMDS hanging on every request for longer than imds.budget: exit 4 naming IMDS, the path and the budget, no task run', async (t) => {
  const w = await world(t, () => ({ kind: 'hang' }), '5s');
  const started = Date.now();
  const r = await w.node.cli(['run']);
  const took = Date.now() - started;
  t.equal(r.code, 4, r.stdout.slice(-2000));
  t.ok(took < 5_000 + 8_000, `gave up at the budget (${took} ms)`);
  t.match(logLines(r.stdout).filter((l) => l.level === 'error').at(-1), { level: 'error', msg: new RegExp(`IMDS ${w.proxy.url}: /latest/[a-z/-]+: no answer within imds.budget \\(5s\\); last error: (session token: )?no answer within`) });
  await t.rejects(readFile(w.marker), 'no task ran');
  t.match(JSON.parse((await w.node.cli(['status', '--output', 'json'])).stdout), { result: 'source-error' });
});
