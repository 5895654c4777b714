// The process's proxy settings are read once, from its own environment, as Go's ProxyFromEnvironment reads them;
// the AWS SDK gets agents only when a proxy variable is set. (This file sets the variables for its own process.)
import t from 'tap';
import { processProxyRules, proxyVariablesSet, routeFor, sdkProxyAgents } from '../../../src/host/http/proxy-env.js';

t.test('which variables count as a proxy being set', async (t) => {
  t.notOk(proxyVariablesSet({ NO_PROXY: '*', HTTPS_PROXY: '' }), 'NO_PROXY alone, or an empty value, is no proxy');
  t.ok(proxyVariablesSet({ http_proxy: 'p:3128' }));
});

t.test("the process's variables, read once", async (t) => {
  for (const k of ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy', 'NO_PROXY', 'no_proxy', 'REQUEST_METHOD']) delete process.env[k];
  process.env.https_proxy = 'http://proxy.corp:3128';
  process.env.NO_PROXY = '.internal.example';
  const rules = await processProxyRules();
  t.ok(rules?.any);
  t.match(await routeFor(new URL('https://kube.example.com/')), { proxy: { shown: 'http://proxy.corp:3128', variable: 'https_proxy' } });
  t.same(await routeFor(new URL('https://api.internal.example/')), { direct: true });
  t.same(await routeFor(new URL('http://kube.example.com/')), { direct: true }, 'no HTTP proxy for http://');
  process.env.https_proxy = 'http://changed:1';
  t.match(await routeFor(new URL('https://kube.example.com/')), { proxy: { shown: 'http://proxy.corp:3128' } }, 'a later change is not seen, as in Go');
  const agents = await sdkProxyAgents();
  t.ok(agents.httpAgent && agents.httpsAgent, 'the SDK gets agents that follow the rules');
  (agents.httpAgent as { destroy(): void }).destroy();
  (agents.httpsAgent as { destroy(): void }).destroy();
});
