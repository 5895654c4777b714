// The `kubernetes` block of the agent config (design §4): defaults, and the names a real API server or
// NodeRestriction would refuse at the end of a boot, refused instead when the config loads (exit 2).
import { writeFile } from 'node:fs/promises';
import t from 'tap';
import { loadConfig } from '../../src/config/load-config.js';
import { runCli, workspace } from '../helpers/cli.js';
import { configFile, problemsOf } from '../helpers/config-file.js';

t.test('the defaults are the design example', async (t) => {
  const { config } = await loadConfig('/nonexistent/postjoin/config.yaml');
  t.same(config.kubernetes, {
    enabled: 'auto',
    kubeconfig: '/var/lib/kubelet/kubeconfig',
    nodeName: null,
    condition: 'postjoin.io/Ready',
    label: 'postjoin.io/result',
    events: true,
    timeoutMs: 30_000,
  });
});

t.test('the design example block loads as written, and every key can be set', async (t) => {
  const p = await configFile(`kubernetes:
  enabled: auto
  kubeconfig: /var/lib/kubelet/kubeconfig
  nodeName: null
  condition: postjoin.io/Ready
  label: postjoin.io/result
  events: true
  timeout: 30s
`);
  t.equal((await loadConfig(p)).config.kubernetes.timeoutMs, 30_000);
  const q = await configFile(
    'kubernetes: { enabled: true, kubeconfig: /etc/kc, nodeName: ip-10-0-0-1.ec2.internal, condition: example.com/PostJoin, label: null, events: false, timeout: 1m30s }\n',
  );
  t.same((await loadConfig(q)).config.kubernetes, {
    enabled: true,
    kubeconfig: '/etc/kc',
    nodeName: 'ip-10-0-0-1.ec2.internal',
    condition: 'example.com/PostJoin',
    label: null,
    events: false,
    timeoutMs: 90_000,
  });
  t.equal((await loadConfig(await configFile('kubernetes: { enabled: false }\n'))).config.kubernetes.enabled, false);
  t.equal((await loadConfig(await configFile('kubernetes: { label: team-a/postjoin }\n'))).config.kubernetes.label, 'team-a/postjoin');
  t.equal((await loadConfig(await configFile('kubernetes: { label: postjoin-result }\n'))).config.kubernetes.label, 'postjoin-result', 'an unprefixed key is the node\'s to set');
});

t.test('a label under kubernetes.io/ or k8s.io/ is refused: NodeRestriction would refuse it', async (t) => {
  for (const key of ['kubernetes.io/postjoin', 'node.kubernetes.io/postjoin', 'k8s.io/result', 'node-role.kubernetes.io/ready', 'x.k8s.io/y']) {
    t.match(await problemsOf(`kubernetes: { label: ${key} }\n`), [new RegExp(`^config CONFIG: kubernetes\\.label, line 1: kubernetes\\.label "${key.replaceAll('.', '\\.')}" is under kubernetes\\.io/ or k8s\\.io/.*NodeRestriction`)], key);
  }
  t.same(await problemsOf('kubernetes: { label: notkubernetes.io/x }\n'), [], 'a domain that merely ends in the same letters is not reserved');
});

t.test('names the API server would refuse are refused with the key and the line', async (t) => {
  t.match(await problemsOf('kubernetes:\n  label: "postjoin.io/has space"\n'), [/kubernetes\.label, line 2: .*name part/]);
  t.match(await problemsOf('kubernetes: { label: "a/b/c" }\n'), [/more than one "\/"/]);
  t.match(await problemsOf('kubernetes: { label: "Postjoin.IO/x" }\n'), [/prefix "Postjoin\.IO" must be lowercase/]);
  t.match(await problemsOf(`kubernetes: { label: "postjoin.io/${'x'.repeat(64)}" }\n`), [/longer than 63/]);
  t.match(await problemsOf('kubernetes: { condition: Ready }\n'), [/kubernetes\.condition.*needs a domain prefix, e\.g\. "postjoin\.io\/Ready".*kubelet's own/]);
  t.match(await problemsOf('kubernetes: { condition: "postjoin.io/" }\n'), [/empty name part/]);
  t.match(await problemsOf('kubernetes: { condition: null }\n'), [/kubernetes\.condition.*expected kubernetes\.condition as a string/]);
  t.match(await problemsOf('kubernetes: { nodeName: IP-10-0-0-1 }\n'), [/kubernetes\.nodeName "IP-10-0-0-1" must be lowercase/]);
  t.match(await problemsOf('kubernetes: { nodeName: "" }\n'), [/kubernetes\.nodeName "" is empty/]);
  t.match(await problemsOf('kubernetes: { kubeconfig: kubeconfig }\n'), [/kubernetes\.kubeconfig must be an absolute path/]);
  t.match(await problemsOf('kubernetes: { enabled: yes-please }\n'), [/kubernetes\.enabled.*expected auto, true or false/]);
  t.match(await problemsOf('kubernetes: { events: 1 }\n'), [/kubernetes\.events.*true or false/]);
  t.match(await problemsOf('kubernetes: { taint: x }\n'), [/kubernetes.*taint/]);
});

t.test('the timeout is a Go-style duration longer than zero', async (t) => {
  t.match(await problemsOf('kubernetes: { timeout: 30 }\n'), [/kubernetes\.timeout.*bare number 30/]);
  t.match(await problemsOf('kubernetes: { timeout: 0s }\n'), [/kubernetes\.timeout.*longer than 0s.*enabled: false/]);
  t.match(await problemsOf('kubernetes: { timeout: "0" }\n'), [/kubernetes\.timeout.*longer than 0s/]);
});

t.test('postjoin plan exits 2 on a reserved label, naming the file and the key', async (t) => {
  const ws = await workspace();
  await writeFile(ws.configPath, `sources: [file]\nimds: { enabled: false }\ntasksDir: ${ws.tasksDir}\nkubernetes:\n  label: kubernetes.io/postjoin\n`);
  const r = await runCli(['plan', '--config', ws.configPath]);
  t.equal(r.code, 2);
  t.match(r.stderr, `config ${ws.configPath}: kubernetes.label, line 5: kubernetes.label "kubernetes.io/postjoin" is under kubernetes.io/ or k8s.io/`);
});
