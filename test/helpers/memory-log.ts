import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';

/** A real pino logger whose JSON lines are kept in memory, so tests can assert on what an SRE would read. */
export function memoryLogger(): { log: Logger; records: Record<string, unknown>[]; messages: () => string[] } {
  const records: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n')) if (line.trim()) records.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  const log = pino({ level: 'trace', base: undefined, formatters: { level: (label) => ({ level: label }) } }, stream);
  return { log, records, messages: () => records.map((r) => String(r.msg)) };
}
