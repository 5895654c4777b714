// Whether the last report to the Node was made is kept in state.json (an optional `report`), and `postjoin
// status` shows it, in text and JSON. State files written before it existed still load.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { RunRecorder } from '../../src/state/run-recorder.js';
import { isRunState, type ReportRecord } from '../../src/state/run-state.js';
import { StateStore, readState } from '../../src/state/state-store.js';
import { runCli } from '../helpers/cli.js';
import { memoryLogger } from '../helpers/memory-log.js';

const OLD_STATE = {
  version: 1,
  instanceId: 'i-0abc',
  startedAt: '2026-01-01T00:00:00.000Z',
  finishedAt: '2026-01-01T00:00:05.000Z',
  result: 'succeeded',
  exitCode: 0,
  tasks: [{ name: 'a', source: 'file:/x.yaml#tasks[0]', kind: 'exec', status: 'succeeded', attempts: 1, durationMs: 10, exitCode: 0 }],
  done: {},
};

const made: ReportRecord = {
  made: true,
  at: '2026-01-01T00:00:05.100Z',
  node: 'ip-10-0-0-1.ec2.internal',
  condition: 'postjoin.io/Ready',
  status: 'True',
  reason: 'Succeeded',
  durationMs: 40,
};

t.test('a state file without report (written before cluster handoff) still loads', async (t) => {
  t.ok(isRunState(OLD_STATE));
  t.ok(isRunState({ ...OLD_STATE, report: made }));
  t.notOk(isRunState({ ...OLD_STATE, report: { made: 'yes' } }), 'a report of the wrong shape makes the file untrusted');
  t.notOk(isRunState({ ...OLD_STATE, report: null }));
});

t.test('the recorder keeps the report and writes it with the state', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'postjoin-state-'));
  const rec = new RunRecorder(await StateStore.open(dir, memoryLogger().log), 'boot');
  rec.setReport(undefined);
  t.equal(rec.state.report, undefined, 'reporting off: no report key');
  rec.setReport({ ...made, made: false, status: 'False', reason: 'TaskFailed', error: 'GET /api/v1/nodes/x: connection refused' });
  rec.finish(1, 'task "a" failed');
  await rec.save();
  const loaded = await readState(dir);
  t.equal(loaded.kind, 'ok');
  t.match(loaded.kind === 'ok' && loaded.state.report, { made: false, reason: 'TaskFailed', error: /connection refused/ });
});

async function statusOf(state: unknown): Promise<{ text: string; json: Record<string, unknown>; code: number | null }> {
  const dir = await mkdtemp(join(tmpdir(), 'postjoin-state-'));
  await writeFile(join(dir, 'state.json'), JSON.stringify(state));
  const text = await runCli(['status', '--state-dir', dir]);
  const json = await runCli(['status', '--state-dir', dir, '--output', 'json']);
  return { text: text.stdout, json: JSON.parse(json.stdout) as Record<string, unknown>, code: text.code };
}

t.test('postjoin status shows that the report was made', async (t) => {
  const s = await statusOf({ ...OLD_STATE, report: made });
  t.match(s.text, /^report: +made at 2026-01-01T00:00:05\.100Z: postjoin\.io\/Ready=True\/Succeeded on Node ip-10-0-0-1\.ec2\.internal$/m);
  t.same(s.json.report, made);
  t.equal(s.code, 0);
});

t.test('postjoin status shows a pending report: since when, what is missing, the tries, the last error, and what retries it', async (t) => {
  const pending: ReportRecord = {
    ...made,
    made: false,
    at: '2026-01-01T00:10:00.000Z',
    error: 'label postjoin.io/result=succeeded: GET /api/v1/nodes/ip-10-0-0-1.ec2.internal: connection refused',
    message: 'all tasks done: 1 succeeded',
    label: { key: 'postjoin.io/result', value: 'succeeded' },
    event: { type: 'Normal', reason: 'PostjoinSucceeded' },
    endedAt: '2026-01-01T00:00:05.000Z',
    missing: ['label'],
    pendingSince: '2026-01-01T00:00:35.000Z',
    tries: 4,
  };
  const s = await statusOf({ ...OLD_STATE, report: pending });
  t.match(
    s.text,
    /^report: +pending since 2026-01-01T00:00:35\.000Z: postjoin\.io\/Ready=True\/Succeeded on Node ip-10-0-0-1\.ec2\.internal; not on the Node yet: label; 4 tries, the last at 2026-01-01T00:10:00\.000Z: label .*connection refused\n +postjoin-report\.service tries again; postjoin report sends it now$/m,
  );
  t.same(s.json.report, pending, 'the JSON has the whole record');
  t.equal(s.code, 0, 'the run succeeded; a pending report does not change that');
  const late = await statusOf({ ...OLD_STATE, report: { ...pending, made: true, missing: [], error: undefined, tries: 5 } });
  t.match(late.text, /^report: +made at 2026-01-01T00:10:00\.000Z: postjoin\.io\/Ready=True\/Succeeded on Node \S+ \(try 5, pending since 2026-01-01T00:00:35\.000Z\)$/m);
});

t.test('postjoin status shows a report that was not made, written by an older version, and why; the exit code is the run\'s', async (t) => {
  const failed = { ...made, made: false, error: 'GET /api/v1/nodes/ip-10-0-0-1.ec2.internal: connection refused; no time left to retry within kubernetes.timeout' };
  const s = await statusOf({ ...OLD_STATE, report: failed });
  t.match(s.text, /^report: +not made: postjoin\.io\/Ready=True\/Succeeded on Node ip-10-0-0-1\.ec2\.internal: GET .*connection refused/m);
  t.match(s.json.report, { made: false, error: /connection refused/ });
  t.equal(s.code, 0, 'the run succeeded; a missed report does not change that');
  const partly = await statusOf({ ...OLD_STATE, report: { ...made, error: 'label postjoin.io/result=succeeded: HTTP 403 Forbidden' } });
  t.match(partly.text, /^report: +made at .*Succeeded on Node .* \(but label postjoin\.io\/result=succeeded: HTTP 403 Forbidden\)$/m);
});

t.test('postjoin status of an old state file has no report line and no report key', async (t) => {
  const s = await statusOf(OLD_STATE);
  t.notMatch(s.text, /report:/);
  t.notOk('report' in s.json);
});
