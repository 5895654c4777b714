// retryDelay through the bundle: a task's retry never comes sooner than the retryDelay its author wrote
// (before, full jitter could retry a `retryDelay: 5m` task after 3 s, and capped it at 30 s in silence).
// The delay rule itself: test/base/retry.test.ts "task retries: never less than retryDelay; …".
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { logLines, runCli, taskList, workspace } from '../helpers/cli.js';

t.test('retryDelay: 1.5s: every retry starts at least 1.5 s after the attempt before it failed', async (t) => {
  const ws = await workspace();
  const stamps = join(ws.dir, 'stamps');
  // Fails twice, then succeeds; each attempt writes when it ended (ms since the epoch).
  const body = `n=$(wc -l < ${stamps} 2>/dev/null || echo 0); echo $(date +%s%3N) >> ${stamps}; [ "$n" -ge 2 ] || exit 5`;
  await ws.task('10.yaml', taskList(`  - { name: flaky, retries: 2, retryDelay: 1.5s, script: ${JSON.stringify(body)} }\n`));
  const r = await runCli(['run', '--config', ws.configPath, '--state-dir', ws.stateDir]);
  t.equal(r.code, 0, r.stdout.slice(-2000) + r.stderr);
  const at = (await readFile(stamps, 'utf8')).trim().split('\n').map(Number);
  t.equal(at.length, 3, 'three attempts');
  const gaps = at.slice(1).map((v, i) => v - at[i]!);
  for (const [i, gap] of gaps.entries()) t.ok(gap >= 1500, `retry ${i + 1} began ${gap} ms after attempt ${i + 1} ended (retryDelay 1.5s)`);
  const warns = logLines(r.stdout).filter((l) => l.level === 'warn' && l.task === 'flaky');
  t.equal(warns.length, 2);
  for (const w of warns) t.ok(Number(w.retry_in_ms) >= 1500 && Number(w.retry_in_ms) < 3000, `announced retry_in_ms ${String(w.retry_in_ms)}: between retryDelay and twice it`);
});
