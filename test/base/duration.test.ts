import t from 'tap';
import { formatDuration, parseDuration } from '../../src/base/duration.js';

t.test('Go-style durations parse to milliseconds', async (t) => {
  const cases: [string, number][] = [
    ['250ms', 250],
    ['30s', 30_000],
    ['5m', 300_000],
    ['1h30m', 5_400_000],
    ['1.5s', 1500],
    ['2h3m4s5ms', 7_384_005],
    ['0', 0],
  ];
  for (const [s, ms] of cases) t.same(parseDuration(s), { ok: true, ms }, s);
});

t.test('bad durations are refused with a hint', async (t) => {
  const bare = parseDuration(30);
  t.equal(bare.ok, false);
  t.match(!bare.ok && bare.message, /bare number 30/);
  const noUnit = parseDuration('30');
  t.match(!noUnit.ok && noUnit.message, /a bare number has no unit; write "30s"/);
  for (const s of ['', '5 m', '5x', 'm5', '1d', '-5s']) t.equal(parseDuration(s).ok, false, JSON.stringify(s));
});

t.test('formatDuration writes the shortest form and round-trips', async (t) => {
  t.equal(formatDuration(600_000), '10m');
  t.equal(formatDuration(5_400_000), '1h30m');
  t.equal(formatDuration(1500), '1s500ms');
  t.equal(formatDuration(0), '0s');
  for (const ms of [1, 999, 1000, 61_000, 3_600_001]) {
    const r = parseDuration(formatDuration(ms));
    t.same(r, { ok: true, ms }, `${ms}`);
  }
});
