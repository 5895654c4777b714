// httpGet's timeout is a total deadline per request (connect, headers and body), not an idle timeout: a server
// that trickles a byte every 200 ms forever is never idle, and used to hold a probe, and a `wait: {url}` task,
// past their timeouts. The servers here are real ones on 127.0.0.1.
import { createServer as createHttpServer } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server, type Socket } from 'node:net';
import t from 'tap';
import { httpGet, type HttpAnswer } from '../../../src/host/http/http-get.js';
import { logLines, runCli, taskList, workspace } from '../../helpers/cli.js';

type Closable = { close(cb?: () => void): unknown; address(): AddressInfo | string | null };

async function listen<S extends Closable & { listen(port: number, host: string, cb: () => void): unknown }>(t: { teardown(fn: () => unknown): void }, server: S, sockets: Set<Socket>): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((r) => server.close(() => r()));
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
}

/** 200 with headers at once, then a body byte every 200 ms, forever; after `trickled` such requests, 204 at once. */
async function tricklingBody(t: { teardown(fn: () => unknown): void }, trickled = Infinity): Promise<string> {
  const sockets = new Set<Socket>();
  let requests = 0;
  const server = createHttpServer((_req, res) => {
    if (++requests > trickled) return res.writeHead(204).end();
    res.writeHead(200, { 'content-type': 'text/plain' });
    const timer = setInterval(() => res.write('.'), 200);
    res.on('close', () => clearInterval(timer));
  });
  server.on('connection', (s) => sockets.add(s));
  return listen(t, server, sockets);
}

/** A raw server that sends the status line and then its headers a byte every 200 ms, never finishing them. */
async function tricklingHeaders(t: { teardown(fn: () => unknown): void }): Promise<string> {
  const sockets = new Set<Socket>();
  const server: Server = createNetServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
    s.write('HTTP/1.1 200 OK\r\nX-Slow: ');
    const timer = setInterval(() => s.write('a'), 200);
    s.on('close', () => clearInterval(timer));
  });
  return listen(t, server, sockets);
}

/** The answer, or 'still running' after `ms`: the test must end even when httpGet never does. */
function within(p: Promise<HttpAnswer>, ms: number): Promise<HttpAnswer | 'still running'> {
  return Promise.race([p, new Promise<'still running'>((r) => setTimeout(() => r('still running'), ms).unref())]);
}

for (const [what, start] of [['a body trickled a byte every 200 ms', tricklingBody], ['headers trickled a byte every 200 ms', tricklingHeaders]] as const) {
  t.test(`httpGet against ${what}: an error within its timeout (1 s), not an answer never`, async (t) => {
    const url = await start(t);
    const stop = new AbortController();
    t.teardown(() => stop.abort());
    const began = Date.now();
    const a = await within(httpGet(url, { signal: stop.signal, timeoutMs: 1000 }), 6000);
    const took = Date.now() - began;
    t.not(a, 'still running', `httpGet returned (after ${took} ms)`);
    t.match(a, { error: 'no complete answer within 1000 ms' });
    t.ok(took < 1000 + 3000, `it returned ${took} ms after the request began (timeout 1 s)`);
  });
}

t.test('a wait: {url} whose first request trickles forever gives up on that request after 5 s and succeeds on the next, through the bundle', async (t) => {
  const url = await tricklingBody(t, 1);
  const ws = await workspace();
  await ws.task('10.yaml', taskList(`  - { name: stuck-once, timeout: 15s, wait: { url: "${url}", interval: 100ms } }\n`));
  const r = await runCli(['run', '--config', ws.configPath, '--state-dir', ws.stateDir], { timeoutMs: 40_000 });
  t.equal(r.code, 0, r.stdout.slice(-1500) + r.stderr);
  const msgs = logLines(r.stdout).filter((l) => l.task === 'stuck-once').map((l) => String(l.msg));
  t.ok(msgs.includes(`waiting for ${url} to answer 2xx: no complete answer within 5000 ms`), 'the stuck request is reported as such');
  t.ok(msgs.some((m) => m.startsWith(`done waiting for ${url} to answer 2xx: HTTP 204 after `)), 'and the next request succeeded');
});

t.test('a wait: {url} task with timeout: 2s against a trickling server fails at its timeout, through the bundle', async (t) => {
  const url = await tricklingBody(t);
  const ws = await workspace();
  await ws.task('10.yaml', taskList(`  - { name: slow-url, timeout: 2s, wait: { url: "${url}", interval: 100ms } }\n`));
  const began = Date.now();
  const r = await runCli(['run', '--config', ws.configPath, '--state-dir', ws.stateDir], { timeoutMs: 30_000 });
  const took = Date.now() - began;
  t.equal(r.code, 1, r.stdout.slice(-1500) + r.stderr);
  const err = logLines(r.stdout).find((l) => l.level === 'error' && l.task === 'slow-url');
  t.match(err?.msg, /^task slow-url \(1\/1\) failed: timed out after 2s/);
  // The task's own duration, without the agent's start-up (slow on a loaded machine); the runner's wind-down,
  // which would end a task that ignores its timeout, is 8 s.
  t.ok(Number(err?.duration_ms) < 2000 + 3000, `the task failed ${String(err?.duration_ms)} ms after it started (timeout 2s); the run took ${took} ms`);
  t.notMatch(err?.msg, /did not stop within/, 'the task stopped by itself; the runner did not have to abandon it');
});
