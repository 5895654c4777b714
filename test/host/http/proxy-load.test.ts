// The proxy code loads only when a proxy is configured: `plan`, `--version` and a run without a proxy variable never
// initialise it; with HTTPS_PROXY set, the rules load, and the tunnel only when a request takes the proxy. Proven on
// the bundle with esbuild's lazy module wrappers (test/helpers/module-inits.ts). No request here leaves 127.0.0.1:
// the proxy is a closed port on it, so the tunnel fails before any target is asked.
import t from 'tap';
import { freePort } from '../../harness/proc.js';
import { runCli, taskList, workspace } from '../../helpers/cli.js';
import { moduleInitWatcher } from '../../helpers/module-inits.js';

const RULES = 'src/host/http/proxy-rules.ts';
const MACHINERY = ['src/host/http/proxy-tunnel.ts', 'src/host/http/proxy-agents.ts', 'src/host/http/proxy-via.ts'];
const NO_PROXY_ENV = { HTTPS_PROXY: '', https_proxy: '', HTTP_PROXY: '', http_proxy: '' };

t.test('plan and --version never load the proxy code, even with HTTPS_PROXY set', async (t) => {
  const ws = await workspace();
  const watch = await moduleInitWatcher(ws.dir);
  await ws.task('10.yaml', taskList('  - { name: a, wait: { url: "https://192.0.2.1/" } }\n'));
  for (const args of [['--version'], ['plan', '--config', ws.configPath]]) {
    const w = watch();
    const r = await runCli(args, { env: { ...w.env, HTTPS_PROXY: 'http://127.0.0.1:1' } });
    t.equal(r.code, 0, `${args[0]}: ${r.stderr}`);
    const loaded = await w.loaded();
    for (const m of [RULES, ...MACHINERY]) t.notOk(loaded(m), `${args[0]} does not load ${m}`);
    t.ok(loaded('src/'), `${args[0]}: the watcher saw the bundle's own modules`);
  }
});

t.test('a run without a proxy variable never loads it; with one, the rules load, and the tunnel when a request takes the proxy', async (t) => {
  const ws = await workspace();
  const watch = await moduleInitWatcher(ws.dir);
  await ws.task('10.yaml', taskList('  - { name: local, timeout: 1s, onFailure: continue, wait: { url: "http://127.0.0.1:1/" } }\n'));
  const args = ['run', '--config', ws.configPath, '--state-dir', ws.stateDir];

  const none = watch();
  t.equal((await runCli(args, { env: { ...none.env, ...NO_PROXY_ENV } })).code, 0);
  const noneLoaded = await none.loaded();
  for (const m of [RULES, ...MACHINERY]) t.notOk(noneLoaded(m), `no proxy variable: ${m} not loaded`);

  const local = watch();
  t.equal((await runCli(args, { env: { ...local.env, ...NO_PROXY_ENV, HTTP_PROXY: 'http://127.0.0.1:1' } })).code, 0);
  const localLoaded = await local.loaded();
  t.ok(localLoaded(RULES), 'HTTP_PROXY set: the rules load');
  for (const m of MACHINERY) t.notOk(localLoaded(m), `loopback is never proxied: ${m} not loaded`);

  const closed = await freePort();
  await ws.task('20.yaml', taskList('  - { name: far, timeout: 1s, wait: { url: "https://192.0.2.1/" } }\n'));
  const far = watch();
  const r = await runCli(args, { env: { ...far.env, ...NO_PROXY_ENV, HTTPS_PROXY: `http://127.0.0.1:${closed}` } });
  t.equal(r.code, 1, 'the far wait fails: its proxy is down');
  t.match(r.stdout, `cannot reach proxy http://127.0.0.1:${closed} (from HTTPS_PROXY) to CONNECT to 192.0.2.1:443: connection refused`);
  const farLoaded = await far.loaded();
  t.ok(farLoaded('src/host/http/proxy-tunnel.ts') && farLoaded('src/host/http/proxy-via.ts'), 'a request through the proxy loads the tunnel');
  t.notOk(farLoaded('src/host/http/proxy-agents.ts'), "the AWS SDK's agents only with an AWS client");
});
