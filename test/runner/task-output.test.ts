// A task's output on its way to the journal: line by line, up to a budget per task; the rest is counted.
import t from 'tap';
import { createOutputForwarder } from '../../src/runner/task-output.js';
import { memoryLogger } from '../helpers/memory-log.js';

t.test('task output is bounded per task; the rest is counted, not forwarded', async (t) => {
  const mem = memoryLogger();
  const fwd = createOutputForwarder(mem.log, 100);
  for (let i = 0; i < 20; i++) fwd.line('stdout', `line ${i} ${'x'.repeat(10)}`, false);
  fwd.finish();
  const lines = mem.records.filter((r) => r.stream === 'stdout' && r.level === 'info');
  t.equal(lines.length, 5, 'only what fits in the budget');
  t.match(mem.records.find((r) => r.level === 'warn'), { msg: /task output passed 0 KiB; the rest is not forwarded/ });
  t.match(mem.records.at(-1), { dropped_bytes: 5 * 18 + 10 * 19, msg: '280 more bytes of task output were not forwarded' });
});
