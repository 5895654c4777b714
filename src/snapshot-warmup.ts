// Runs only while the single executable's V8 startup snapshot is built (src/main.ts, packaging/sea/build-sea.mjs),
// never at a node's start-up. Whatever the heap holds when this resolves is what every start deserialises
// instead of compiling: the modules of the verbs below, initialised, and the functions one `plan` and one
// `validate` of a sample task list call (YAML, zod, the plan checks), compiled.
//
// Only through the command line, as a user would, so that it keeps working whatever the modules are called.
// Nothing may outlive it: no open file, timer, listener or child process, and no value read from the machine
// (the snapshot is made on the build host, not the node). The sample lives in a temporary directory it removes.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { main } from './cli.js';
import { verbs } from './verbs/catalog.js';

const TASKS = `apiVersion: postjoin/v1alpha1
kind: TaskList
tasks:
  - { name: sysctl, script: "sysctl -w vm.max_map_count=262144", env: { A: b } }
  - { name: conf, file: { path: /etc/example.json, content: "{}", mode: "0644" } }
  - { name: install, exec: { command: /usr/bin/dnf, args: [install, -y, x] }, retries: 2, timeout: 5m }
  - { name: start, unit: { name: example.service, action: restart } }
  - { name: ready, wait: { url: "http://127.0.0.1:4317/" } }
  - { name: images, pull: { images: [public.ecr.aws/eks-distro/kubernetes/pause:3.9] } }
  - name: both
    parallel:
      tasks:
        - { name: p1, exec: { command: /bin/true } }
        - { name: p2, exec: { command: /bin/true } }
`;

export async function warmUp(): Promise<void> {
  for (const verb of verbs) if (['run', 'plan', 'status', 'validate'].includes(verb.name)) await verb.load();
  const dir = await mkdtemp(join(tmpdir(), 'postjoin-snapshot-'));
  try {
    await mkdir(join(dir, 'tasks.d'));
    await writeFile(join(dir, 'tasks.d', '10.yaml'), TASKS);
    const config = join(dir, 'config.yaml');
    await writeFile(config, `sources: [file]\ntasksDir: ${dir}/tasks.d\nimds: { enabled: false }\nreadiness: { units: [], kubeletHealthz: null, containerd: false }\n`);
    const sink = new Writable({ write: (_chunk, _enc, done) => done() });
    for (const argv of [
      ['plan', '--config', config, '--log-level', 'error'],
      ['plan', '--config', config, '--log-level', 'error', '--output', 'json'],
      ['validate', join(dir, 'tasks.d', '10.yaml'), '--log-level', 'error'],
    ]) {
      const code = await main(argv, sink, sink);
      if (code !== 0) throw new Error(`snapshot warm-up: postjoin ${argv[0]} exited ${code}`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
