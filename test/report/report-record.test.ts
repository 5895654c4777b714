// report/report-record.ts: the record of a report to the Node, what is still missing in it, and what postjoin
// report sends with today's config. Plain objects: the writes themselves are tested against the stand-in
// (test/verbs/report-pending.test.ts).
import t from 'tap';
import { describeOutcome } from '../../src/report/cluster-outcome.js';
import { afterTry, firstRecord, partsText, pendingOf, type ReportNames } from '../../src/report/report-record.js';
import { isRunState } from '../../src/state/run-state.js';

const names: ReportNames = { condition: 'postjoin.io/Ready', label: 'postjoin.io/result', events: true };
const desc = describeOutcome({ reason: 'TaskFailed', task: 'prepull', error: 'exit 1' });
const at = new Date('2026-01-01T00:01:00.000Z');
const later = new Date('2026-01-01T00:05:00.000Z');
const node = 'ip-10-0-0-1.ec2.internal';

t.test('the run\'s record: made means the condition and the label; the event alone never keeps it pending', async (t) => {
  t.match(firstRecord(desc, { made: true, errors: [], label: true, event: true }, names, node, at, 40), {
    made: true,
    missing: [],
    tries: 1,
    message: desc.message,
    label: { key: 'postjoin.io/result', value: 'failed' },
    event: { type: 'Warning', reason: 'PostjoinTaskFailed' },
  });
  const down = firstRecord(desc, { made: false, errors: ['condition …: connection refused'] }, names, node, at, 30_000);
  t.match(down, { made: false, missing: ['condition', 'label', 'event'], pendingSince: at.toISOString(), error: /connection refused/ });
  t.match(firstRecord(desc, { made: true, errors: ['label …: 503'], label: false, event: true }, names, node, at, 1), { made: false, missing: ['label'] });
  const noEvent = firstRecord(desc, { made: true, errors: ['Warning event …: 403'], label: true, event: false }, names, node, at, 1);
  t.match(noEvent, { made: true, missing: ['event'], error: /403/ });
  t.notOk('pendingSince' in noEvent, 'made: never pending');
  const bare = firstRecord(desc, { made: true, errors: [] }, { ...names, label: null, events: false }, node, at, 1);
  t.match(bare, { made: true, missing: [] });
  t.notOk('label' in bare || 'event' in bare, 'no label or event configured: none recorded');
  t.ok(isRunState({ version: 1, startedAt: 'x', result: 'failed', tasks: [], done: {}, report: down }), 'the record is a valid part of state.json');
  t.notOk(isRunState({ version: 1, startedAt: 'x', result: 'failed', tasks: [], done: {}, report: { ...down, missing: ['taint'] } }), 'a malformed one is not');
});

t.test('what report sends: the missing parts today\'s config still names; nothing when made or from an older version', async (t) => {
  const down = firstRecord(desc, { made: false, errors: ['x'] }, names, node, at, 1);
  const p = pendingOf({ ...down, endedAt: '2026-01-01T00:00:59.000Z' }, names);
  t.equal(p.kind, 'pending');
  if (p.kind !== 'pending') return;
  t.same([...p.parts], ['condition', 'label', 'event']);
  t.same(p.desc, desc, 'the same condition, label and event as the run would have sent');
  t.same(p.eventTime, new Date('2026-01-01T00:00:59.000Z'), 'dated when the run ended');
  t.equal(partsText(p.parts, p, names), 'postjoin.io/Ready=False/TaskFailed, label postjoin.io/result=failed, event PostjoinTaskFailed');
  const off = pendingOf(down, { ...names, label: null, events: false });
  t.same(off.kind === 'pending' && [...off.parts], ['condition'], 'a label or events switched off since are not sent');
  t.match(pendingOf({ ...down, made: true }, names), { kind: 'none', why: /was made at/ });
  const { message: _m, missing: _x, ...old } = down;
  t.match(pendingOf(old, names), { kind: 'none', why: /written by an older postjoin/ });
});

t.test('after a try: what was written leaves missing, the try is counted, pendingSince stays', async (t) => {
  const down = firstRecord(desc, { made: false, errors: ['x'] }, names, node, at, 1);
  const p = pendingOf(down, names);
  if (p.kind !== 'pending') return t.fail('pending');
  const still = afterTry(p, { made: false, errors: ['condition …: connection refused'] }, names, later, 2000);
  t.match(still, { made: false, missing: ['condition', 'label', 'event'], tries: 2, pendingSince: at.toISOString(), at: later.toISOString(), error: /connection refused/ });
  const half = afterTry(p, { made: true, errors: ['label …: 503'], label: false, event: true }, names, later, 2000);
  t.match(half, { made: false, missing: ['label'], tries: 2 });
  const p2 = pendingOf(half, names);
  if (p2.kind !== 'pending') return t.fail('pending');
  t.same([...p2.parts], ['label'], 'next time only the label');
  const done = afterTry(p2, { made: true, errors: [], label: true }, names, later, 20);
  t.match(done, { made: true, missing: [], tries: 3, pendingSince: at.toISOString() });
  t.notOk('error' in done, 'the last try\'s error is gone');
  const today = { ...names, label: null };
  const p3 = pendingOf(down, today);
  if (p3.kind !== 'pending') return t.fail('pending');
  const noLabel = afterTry(p3, { made: true, errors: [], event: true }, today, later, 20);
  t.match(noLabel, { made: true, missing: [] }, 'a label switched off since is no longer missing');
});
