// What docs/architecture.md promises: a new task kind is one file in src/kinds/ and one entry in its registry, a
// new source one file in src/sources/ and one entry in its registry. Proven on a copy of src/ that gets exactly
// those four edits, built into the CLI and run: the kind is validated, allowed and refused by policy, written as
// a tag and parsed back, and run through the Host; the source is a config source name with its own policy key
// and default allow-list, and needs no IMDS. No other file is touched, and the structure check still passes.
import { execFile } from 'node:child_process';
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import t from 'tap';
import { bundleProgram } from '../helpers/bundle.js';
import { ROOT, runCli, taskList } from '../helpers/cli.js';

/** The whole of the new kind: schema, tag form, policy check, run through ctx.host. */
const TOUCH_KIND = `import { z } from 'zod';
import { absolutePath } from '../base/fields.js';
import { allowedByGlobs } from '../base/glob.js';
import { asWord, defineKind, specFields } from './kind.js';

export const touchKind = defineKind({
  kind: 'touch',
  summary: 'create an empty file',
  schema: z.strictObject({ path: absolutePath('touch.path') }),
  tagsByDefault: false,
  tagForm: {
    parse: (words) => (words.length === 1 ? { spec: { path: words[0] } } : { reason: 'touch takes one path: "touch PATH"' }),
    write: (spec) => ({ words: [asWord(specFields(spec).path)], keys: ['path'] }),
  },
  checkPolicy: (spec, rules) => (allowedByGlobs(spec.path, rules.paths) ? [] : [\`path \${spec.path} is not allowed (policy.paths)\`]),
  async run(spec, ctx) {
    await ctx.host.files.writeAtomic(spec.path, '');
    ctx.log.info(\`touched \${spec.path}\`);
  },
});
`;

/** The whole of the new source: tasks from an environment variable, without IMDS. */
const ENV_SOURCE = `import { tasksFromText } from '../plan/task-document.js';
import { defineSource, everyKind } from './source.js';

export const envSource = defineSource({
  name: 'env',
  needsImds: false,
  defaultAllow: everyKind,
  async read() {
    const text = process.env.POSTJOIN_TEST_TASKS;
    return text ? tasksFromText(text, 'yaml', 'env:POSTJOIN_TEST_TASKS', 'env') : [];
  },
});
`;

/** One entry in a registry: the import, and the name in the list after `after`. */
async function register(file: string, importLine: string, after: string, name: string): Promise<void> {
  const text = await readFile(file, 'utf8');
  const listed = text.replace(new RegExp(`(= \\[[^\\]]*\\b${after})\\b`), `$1, ${name}`);
  if (listed === text) throw new Error(`${file}: no list holding ${after}`);
  await writeFile(file, `${importLine}\n${listed}`);
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => relative(dir, join(e.parentPath ?? (e as unknown as { path: string }).path, e.name))).sort();
}

t.test('a kind and a source, each one file and one registry entry, work through the whole CLI', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'postjoin-extend-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const src = join(dir, 'src');
  await cp(join(ROOT, 'src'), src, { recursive: true });
  await writeFile(join(src, 'kinds/touch.ts'), TOUCH_KIND);
  await register(join(src, 'kinds/registry.ts'), "import { touchKind } from './touch.js';", 'waitKind', 'touchKind');
  await writeFile(join(src, 'sources/env-source.ts'), ENV_SOURCE);
  await register(join(src, 'sources/registry.ts'), "import { envSource } from './env-source.js';", 'tagsSource', 'envSource');

  // Nothing else changed: two new files, two registries.
  const before = await filesUnder(join(ROOT, 'src'));
  const after = await filesUnder(src);
  t.same(after.filter((f) => !before.includes(f)), ['kinds/touch.ts', 'sources/env-source.ts'], 'two new files');
  const changed: string[] = [];
  for (const f of before) if ((await readFile(join(ROOT, 'src', f), 'utf8')) !== (await readFile(join(src, f), 'utf8'))) changed.push(f);
  t.same(changed, ['kinds/registry.ts', 'sources/registry.ts'], 'and one entry in each registry, nothing else');
  const layers = await new Promise<{ code: number; out: string }>((resolve) =>
    execFile(process.execPath, [join(ROOT, 'scripts/check-layers.mjs'), '--root', dir], (err, stdout, stderr) => resolve({ code: err ? Number(err.code) : 0, out: stdout + stderr })),
  );
  t.equal(layers.code, 0, `the new files keep the layers: ${layers.out}`);

  const bundle = await bundleProgram("import './src/main.ts';", join(dir, 'postjoin.cjs'), { resolveDir: dir });
  const cli = (args: string[], env: NodeJS.ProcessEnv = {}) => runCli(args, { bundle, env });
  const work = await mkdtemp(join(tmpdir(), 'postjoin-extend-run-'));
  t.teardown(() => rm(work, { recursive: true, force: true }));
  const config = async (name: string, extra: string, sources = 'env, file') => {
    const p = join(work, name);
    await writeFile(p, `sources: [${sources}]\ntasksDir: ${work}/tasks.d\nimds: { enabled: false }\nreadiness: { units: [], kubeletHealthz: null, containerd: false }\nkubernetes: { enabled: false }\n${extra}`);
    return p;
  };
  const target = join(work, 'touched');
  const envTasks = { POSTJOIN_TEST_TASKS: taskList(`  - { name: mark, touch: { path: ${target} } }\n`) };

  // The kind is validated by its own schema, with the task's location.
  const bad = join(work, 'bad.yaml');
  await writeFile(bad, taskList('  - { name: rel, touch: { path: relative/path } }\n'));
  const invalid = await cli(['validate', bad]);
  t.equal(invalid.code, 2);
  t.match(invalid.stdout, `file:${bad}: tasks[0].touch.path, line 4: touch.path must be an absolute path (start with "/")`);

  // The source is a config source with its own policy key, whose default allows every kind, the new one included.
  const plan = await cli(['plan', '--output', 'json', '--config', await config('plan.yaml', '')], envTasks);
  t.equal(plan.code, 0, plan.stderr);
  t.same(JSON.parse(plan.stdout).tasks, [
    { name: 'mark', kind: 'touch', source: 'env:POSTJOIN_TEST_TASKS#tasks[0]', timeout: '10m', retries: 0, retryDelay: '1s', onFailure: 'abort', once: true, touch: { path: target } },
  ]);
  const refused = await cli(['plan', '--config', await config('refuse.yaml', 'policy: { env: { allow: [exec] } }\n')], envTasks);
  t.equal(refused.code, 2);
  t.match(refused.stderr, 'env:POSTJOIN_TEST_TASKS#tasks[0]: task "mark": kind "touch" is not allowed from source "env" (policy.env.allow: [exec])');
  const ruled = await cli(['plan', '--config', await config('paths.yaml', 'policy: { paths: [/nowhere/*] }\n')], envTasks);
  t.equal(ruled.code, 2);
  t.match(ruled.stderr, `task "mark": path ${target} is not allowed (policy.paths)`, "the kind's own policy check");
  const unknown = await cli(['validate', '--config', await config('unknown.yaml', 'policy: { env: { allow: [touch, nosuch] } }\n'), bad]);
  t.match(unknown.stderr, 'policy.env.allow[1], line 6: unknown task kind "nosuch"; kinds are exec, script, file, pull, unit, wait, touch');
  const noImds = await cli(['plan', '--config', await config('imds.yaml', '', 'env, tags')], envTasks);
  t.equal(noImds.code, 2);
  t.match(noImds.stderr, 'source "tags" needs IMDS, but imds.enabled is false');
  t.notMatch(noImds.stderr, 'source "env" needs IMDS', 'the env source says it needs none');

  // Its tag form: written as a tag and parsed back by the grammar; refused from tags by the default policy.
  const file = join(work, 'tasks.yaml');
  await writeFile(file, taskList(`  - { name: mark, touch: { path: ${target} } }\n`));
  const tags = await cli(['tags', '--tasks', file]);
  t.equal(tags.code, 0, tags.stderr);
  t.equal(tags.stdout, `postjoin:010-mark=touch ${target}\n`);
  t.match(tags.stderr, "postjoin:010-mark is a touch task, which the default policy refuses from tags: the node's policy.tags.allow must list touch");

  // And it runs, through the Host.
  const run = await cli(['run', '--config', await config('run.yaml', ''), '--state-dir', join(work, 'state')], envTasks);
  t.equal(run.code, 0, run.stdout.slice(-2000));
  t.equal(await readFile(target, 'utf8'), '', 'the file the task touched');
  t.match(run.stdout, `touched ${target}`);
});
