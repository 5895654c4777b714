import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { loadConfig } from '../../src/config/load-config.js';
import { configFile, problemsOf } from '../helpers/config-file.js';

t.test('a missing file means the built-in defaults from the design', async (t) => {
  const { config, fromFile } = await loadConfig('/nonexistent/postjoin/config.yaml');
  t.equal(fromFile, false);
  t.match(config, {
    sources: ['file', 'userdata', 'tags'],
    tasksDir: '/etc/postjoin/tasks.d',
    imds: { enabled: true, budgetMs: 120_000 },
    containerd: { socket: '/run/containerd/containerd.sock', namespace: 'k8s.io' },
    readiness: { timeoutMs: 600_000, units: ['containerd.service', 'kubelet.service'], kubeletHealthz: 'http://127.0.0.1:10248/healthz', containerd: true },
    policy: {
      file: { allow: ['exec', 'script', 'file', 'pull', 'unit', 'wait'] },
      userdata: { allow: ['exec', 'script', 'file', 'pull', 'unit', 'wait'] },
      tags: { allow: ['pull', 'unit', 'wait'] },
      registries: [],
      units: [],
    },
    runTimeoutMs: 55 * 60_000,
  });
});

t.test('the design example loads as written', async (t) => {
  const p = await configFile(`apiVersion: postjoin/v1alpha1
kind: AgentConfig
sources:
  - file
  - userdata
  - tags
tasksDir: /etc/postjoin/tasks.d
imds:
  enabled: true
  budget: 2m
containerd:
  socket: /run/containerd/containerd.sock
  namespace: k8s.io
readiness:
  timeout: 10m
  units: [containerd.service, kubelet.service]
  kubeletHealthz: http://127.0.0.1:10248/healthz
  containerd: true
policy:
  file:     { allow: [exec, script, pull, unit, file, wait] }
  userdata: { allow: [exec, script, pull, unit, file, wait] }
  tags:     { allow: [pull, unit, wait] }
  registries: []
  units: []
`);
  const { config, fromFile } = await loadConfig(p);
  t.equal(fromFile, true);
  t.equal(config.readiness.timeoutMs, 600_000);
});

t.test('null and [] switch probes off; absent keys take the default', async (t) => {
  const off = (await loadConfig(await configFile('readiness: { units: [], kubeletHealthz: null, containerd: false }\n'))).config;
  t.same(off.readiness, { timeoutMs: 600_000, units: [], kubeletHealthz: null, containerd: false });
  const nulls = (await loadConfig(await configFile('readiness: { units: null, containerd: null }\n'))).config;
  t.same(nulls.readiness.units, []);
  t.equal(nulls.readiness.containerd, false);
  t.equal(nulls.readiness.kubeletHealthz, 'http://127.0.0.1:10248/healthz', 'absent key keeps its default');
  const partial = (await loadConfig(await configFile('readiness: { timeout: 1h30m }\n'))).config;
  t.equal(partial.readiness.timeoutMs, 5_400_000);
  t.same(partial.readiness.units, ['containerd.service', 'kubelet.service']);
});

t.test('unknown keys name the key, the file and the line', async (t) => {
  t.same(await problemsOf('readiness:\n  timeout: 5m\n  kubeletHealth: null\npolicy:\n  tags: { alow: [exec] }\n'), [
    'config CONFIG: readiness.kubeletHealth, line 3: unknown key "kubeletHealth"; did you mean "kubeletHealthz"?',
    'config CONFIG: policy.tags.alow, line 5: unknown key "alow"; did you mean "allow"?',
  ]);
});

t.test('durations must be Go-style strings', async (t) => {
  t.same(await problemsOf('readiness: { timeout: 600 }\n'), [
    'config CONFIG: readiness.timeout, line 1: expected a duration string such as "30s" or "5m", got the bare number 600',
  ]);
  t.match(await problemsOf('imds: { budget: "2 minutes" }\n'), [/imds\.budget.*"2 minutes" is not a duration/]);
});

t.test('imds off together with an IMDS source is a conflict naming both', async (t) => {
  t.match(await problemsOf('imds: { enabled: false }\n'), [
    /sources.*source "userdata" needs IMDS, but imds.enabled is false/,
    /sources.*source "tags" needs IMDS, but imds.enabled is false/,
  ]);
  t.same(await problemsOf('imds: { enabled: false }\nsources: [file]\n'), []);
});

t.test('policy kinds, sources and paths are checked', async (t) => {
  t.match(await problemsOf('policy: { tags: { allow: [exec, shell] } }\n'), [/policy\.tags\.allow\[1\].*unknown task kind "shell"/]);
  t.match(await problemsOf('sources: [file, file]\n'), [/sources.*listed twice/]);
  t.match(await problemsOf('sources: [file, s3]\n'), [/sources\[1\].*expected one of "file", "userdata", "tags"/]);
  t.match(await problemsOf('tasksDir: tasks.d\n'), [/tasksDir.*absolute path/]);
  t.match(await problemsOf('readiness: { kubeletHealthz: "unix:/x" }\n'), [/kubeletHealthz.*http/]);
  t.match(await problemsOf('readiness:\n  units: [containerd.service, kubelet]\n'), [
    /^config CONFIG: readiness\.units\[1\], line 2: "kubelet" has no unit type; write the full name, e\.g\. "kubelet\.service"$/,
  ]);
  t.match(await problemsOf('readiness: { units: [7] }\n'), [/readiness\.units\[0\].*unit name/]);
  t.match(await problemsOf('- a\n'), [/expected a mapping of settings/]);
  t.match(await problemsOf('a: [\n'), [/malformed YAML/]);
});

t.test('an unknown YAML tag in the config is an error with its line, not a silent string', async (t) => {
  t.same(await problemsOf('sources: [file]\nimds: { enabled: !off false }\n'), [
    'config CONFIG: line 2: unknown YAML tag !off; postjoin reads plain YAML 1.2 (its tags are !!str, !!int, !!bool, !!float, !!null, !!seq and !!map)',
  ]);
});

t.test('an unreadable config is an error, not the defaults', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'postjoin-config-'));
  await t.rejects(loadConfig(dir), /cannot read/);
});
