// scripts/check-layers.mjs, the structure check `npm test` runs first, checked itself: fed small fake src/ trees,
// it refuses each kind of breach (a cycle, machinery outside host/, a long file, an upward import, an import the
// layer's list does not allow, a folder no layer declares), naming the file and the import; a tree that keeps the
// rules passes, and so does this repository's.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import t from 'tap';
import { ROOT } from '../helpers/cli.js';

const SCRIPT = join(ROOT, 'scripts/check-layers.mjs');

function check(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [SCRIPT, ...args], (err, stdout, stderr) => resolve({ code: err ? Number(err.code) : 0, stdout, stderr }));
  });
}

/** A fake repository whose src/ holds these files (path under src/ → text); checked with --root. */
async function checkTree(t: { teardown(fn: () => unknown): void }, files: Record<string, string>) {
  const root = await mkdtemp(join(tmpdir(), 'postjoin-layers-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  for (const [path, text] of Object.entries(files)) {
    await mkdir(dirname(join(root, 'src', path)), { recursive: true });
    await writeFile(join(root, 'src', path), text);
  }
  return check(['--root', root, '--map']);
}

/** A tree that keeps every rule: each layer imports only from below. */
const CLEAN = {
  'base/errors.ts': 'export class E extends Error {}\n',
  'host/host.ts': "import { connect } from 'node:net';\nimport type { E } from '../base/errors.js';\nexport const h = connect;\n",
  'kinds/kind.ts': "import type { h } from '../host/host.js';\nexport type K = typeof h;\n",
  'plan/task.ts': "import type { K } from '../kinds/kind.js';\nexport type T = K;\n",
  'cli.ts': "import { E } from './base/errors.js';\nexport const e = new E();\n",
  'main.ts': "import { e } from './cli.js';\nvoid e;\n",
};

t.test('a tree that keeps the rules passes, and the map says which folder imports which', async (t) => {
  const r = await checkTree(t, CLEAN);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /^host {7}-> base$/m);
  t.match(r.stdout, /^plan {7}-> kinds$/m);
  t.match(r.stdout, /check-layers: 6 files in 6 folders: layers in their declared order, no cycle/);
});

t.test('an import cycle between folders is refused, naming an import on each edge', async (t) => {
  const r = await checkTree(t, {
    ...CLEAN,
    'plan/task.ts': "import { s } from '../sources/read.js';\nexport const T = s;\n",
    'sources/read.ts': "import type { T } from '../plan/task.js';\nexport const s = 1 as unknown as T;\n",
  });
  t.equal(r.code, 1);
  t.match(r.stderr, 'check-layers: import cycle between src/ folders plan, sources:');
  t.match(r.stderr, '    plan -> sources: src/plan/task.ts imports ../sources/read.js');
  t.match(r.stderr, '    sources -> plan: src/sources/read.ts imports ../plan/task.js');
});

t.test('machinery imported outside src/host/ is refused, naming the file and the module', async (t) => {
  const r = await checkTree(t, { ...CLEAN, 'kinds/exec.ts': "import { execa } from 'execa';\nimport { request } from 'node:http';\nexport const x = [execa, request];\n" });
  t.equal(r.code, 1);
  t.match(r.stderr, 'check-layers: src/kinds/exec.ts: imports execa; only src/host/ reaches the machine (add it to Host and pass Host down)');
  t.match(r.stderr, 'check-layers: src/kinds/exec.ts: imports node:http; only src/host/ reaches the machine');
  t.match(r.stderr, 'check-layers: 2 problem(s)');
});

t.test('node:child_process is refused everywhere in src/, src/host/ included, however it is loaded: processes start through execa', async (t) => {
  const r = await checkTree(t, {
    ...CLEAN,
    'host/spawn.ts': "import { spawn } from 'node:child_process';\nexport const s = spawn;\n",
    'host/fork.ts': "export const f = require('child_process').fork;\n",
    'host/exec.ts': "export const e = process.getBuiltinModule('node:child_process').execFile;\n",
    'host/later.ts': "export const l = () => import('child_process');\n",
    'host/notes.ts': "// import { spawn } from 'node:child_process' is what this file does not do\nexport const n = 1;\n",
  });
  t.equal(r.code, 1);
  for (const [file, spec] of [['spawn', 'node:child_process'], ['fork', 'child_process'], ['exec', 'node:child_process'], ['later', 'child_process']]) {
    t.match(r.stderr, `check-layers: src/host/${file}.ts: imports ${spec}; postjoin starts every process through execa (src/host/process/), never node:child_process`);
  }
  t.notMatch(r.stderr, 'src/host/notes.ts', 'a comment that quotes an import is not one');
  t.match(r.stderr, 'check-layers: 4 problem(s)');
  const elsewhere = await checkTree(t, { ...CLEAN, 'kinds/run.ts': "import { spawn } from 'node:child_process';\nexport const s = spawn;\n" });
  t.match(elsewhere.stderr, 'check-layers: src/kinds/run.ts: imports node:child_process; postjoin starts every process through execa');
  t.match(elsewhere.stderr, 'check-layers: 1 problem(s)', 'one problem, not a second one for machinery outside host/');
});

t.test('a file over 300 lines is refused, with its length', async (t) => {
  const r = await checkTree(t, { ...CLEAN, 'base/long.ts': 'export const a = 1;\n'.repeat(301) });
  t.equal(r.code, 1);
  t.match(r.stderr, 'check-layers: src/base/long.ts: 301 lines; a file in src/ has at most 300');
  const ok = await checkTree(t, { ...CLEAN, 'base/long.ts': 'export const a = 1;\n'.repeat(300) });
  t.equal(ok.code, 0, '300 lines are allowed');
});

t.test('an import from a higher layer is refused, naming the file, the import and both layers', async (t) => {
  // Type-only: a type is a dependency too.
  const r = await checkTree(t, { ...CLEAN, 'host/host.ts': "import type { K } from '../kinds/kind.js';\nexport type H = K;\nexport const h = 1;\n" });
  t.equal(r.code, 1);
  t.match(r.stderr, 'check-layers: src/host/host.ts: imports ../kinds/kind.js, from src/kinds/, a higher layer than src/host/; a layer imports only from the layers below it');
});

t.test('an import from a lower layer the layer does not list is refused: plan/ imports no machinery', async (t) => {
  const r = await checkTree(t, { ...CLEAN, 'plan/task.ts': "import { h } from '../host/host.js';\nexport const T = h;\n" });
  t.equal(r.code, 1);
  t.match(r.stderr, 'check-layers: src/plan/task.ts: imports ../host/host.js, from src/host/; src/plan/ may import only from src/base/, src/kinds/');
});

t.test('a folder that is not a declared layer is refused', async (t) => {
  const r = await checkTree(t, { ...CLEAN, 'misc/util.ts': 'export const u = 1;\n' });
  t.equal(r.code, 1);
  t.match(r.stderr, 'check-layers: src/misc/ is not a declared layer; add it to LAYERS in scripts/check-layers.mjs');
});

t.test("this repository's src/ keeps every rule", async (t) => {
  const r = await check([]);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /layers in their declared order, no cycle, machinery only in src\/host\/, no node:child_process, every file at most 300 lines/);
});
