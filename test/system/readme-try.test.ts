// README's "Try it off a node": the config snippet and the four commands, taken from the README itself, run as
// written (only /tmp/try is moved into a temp dir), so the first thing a newcomer copies keeps working.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { ROOT } from '../helpers/cli.js';

const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
const section = readme.slice(readme.indexOf('**Try it off a node**'), readme.indexOf('`npm start` needs only Node'));

t.test("README's off-node snippet: validate, plan, run and status work as written, with no IMDS, probe or cluster", async (t) => {
  const yaml = /```yaml\n# try\.yaml\n([\s\S]*?)```/.exec(section)?.[1];
  const commands = /```\n(node dist\/postjoin\.cjs [\s\S]*?)```/.exec(section)?.[1]?.trim().split('\n');
  if (!yaml || !commands) return t.fail('the README has no try.yaml snippet and commands');
  t.equal(commands.length, 4, 'validate, plan, run, status');
  const dir = await mkdtemp(join(tmpdir(), 'postjoin-try-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const moved = (text: string) => text.replaceAll('/tmp/try', dir);
  await mkdir(join(dir, 'tasks.d'));
  await writeFile(join(dir, 'try.yaml'), moved(yaml));
  await writeFile(join(dir, 'tasks.d/10-hello.yaml'), 'apiVersion: postjoin/v1alpha1\nkind: TaskList\ntasks:\n  - name: hello\n    exec: { command: /bin/echo, args: [hello] }\n');
  // IMDS must never be asked: an endpoint nothing listens on would make a stray request fail loudly.
  const env = { ...process.env, AWS_EC2_METADATA_SERVICE_ENDPOINT: 'http://127.0.0.1:9', JOURNAL_STREAM: '', NODE_OPTIONS: '' };
  const results = [];
  for (const line of commands) {
    t.match(line, /^node dist\/postjoin\.cjs /, line);
    // In a shell, as a reader types it, from the repository (dist/postjoin.cjs), with try.yaml beside the tasks.
    const r = spawnSync('bash', ['-c', moved(line).replace(' try.yaml', ` ${join(dir, 'try.yaml')}`)], { cwd: ROOT, env, encoding: 'utf8', timeout: 60_000 });
    t.equal(r.status, 0, `${line}: exit 0 (${r.stderr.trim() || r.stdout.slice(-300)})`);
    results.push(r);
  }
  t.match(results[2]!.stdout, /"msg":"run succeeded: 1 succeeded in /, 'the run ran the task');
  t.match(results[3]!.stdout, /result:\s+succeeded \(exit 0\)/, 'status says so');
});
