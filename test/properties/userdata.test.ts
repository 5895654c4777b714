// Property-based tests of the user-data decoder and render-userdata (fast-check). Each property runs its own number
// of cases from a fixed seed here, FUZZ_RUNS from a random one under `npm run fuzz`.
import t from 'tap';
import { propertySuite, type PropertyDef } from '../helpers/properties/harness.js';
import { userdataProperties } from '../helpers/properties/userdata.js';

propertySuite(t, userdataProperties as unknown as PropertyDef<never>[], ['userdata']);

// The property above checks sizes; this checks the cost: the real bundle validates crafted bombs, and its peak
// RSS must stay near that of validating a tiny file.
t.test('gzip bombs cost at most about the 1 MiB cap in memory (peak RSS of the bundle)', async (t) => {
  const { spawnSync } = await import('node:child_process');
  const { mkdtempSync, rmSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { gzipSync, createGzip } = await import('node:zlib');
  const { BUNDLE } = await import('../helpers/cli.js');
  const { requireRootAndBins } = await import('../harness/index.js');
  if (!(await requireRootAndBins(t, { time: 'time' }))) return;
  const dir = mkdtempSync(join(tmpdir(), 'postjoin-bomb-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  /** gzip of `size` zero bytes, streamed so the test itself never holds them. */
  const gzipOfZeros = (size: number) =>
    new Promise<Buffer>((resolve) => {
      const z = createGzip({ level: 9 });
      const out: Buffer[] = [];
      z.on('data', (c: Buffer) => out.push(c)).on('end', () => resolve(Buffer.concat(out)));
      const block = Buffer.alloc(1 << 20);
      let left = size;
      const pump = () => {
        while (left > 0) {
          left -= block.length;
          if (!z.write(block)) return void z.once('drain', pump);
        }
        z.end();
      };
      pump();
    });
  const gig = await gzipOfZeros(512 << 20);
  const mime = (body: Buffer, cte = '') =>
    Buffer.concat([Buffer.from(`MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=B\n\n--B\nContent-Type: application/postjoin+yaml\n${cte}\n`), body, Buffer.from('\n--B--\n')]);
  const cases: [string, Buffer][] = [
    ['tiny task file', Buffer.from('apiVersion: postjoin/v1alpha1\nkind: TaskList\ntasks: []\n')],
    ['512 MiB of zeros, gzip', gig],
    ['512 MiB, gzip of gzip (a small file)', gzipSync(gig)],
    ['512 MiB gzip in a base64 postjoin part', mime(Buffer.from(gig.toString('base64')), 'Content-Transfer-Encoding: base64\n')],
    ['512 MiB gzip in a part, the whole user data gzip and base64', Buffer.from(gzipSync(mime(gig)).toString('base64'))],
  ];
  let baseline = 0;
  for (const [name, bytes] of cases) {
    const file = join(dir, `${name.replace(/\W+/g, '-')}.bin`);
    writeFileSync(file, bytes);
    const r = spawnSync('/usr/bin/time', ['-f', 'maxrss_kb=%M', process.execPath, BUNDLE, 'validate', file], { encoding: 'utf8', timeout: 60_000 });
    const rssMb = Number(/maxrss_kb=(\d+)/.exec(r.stderr)?.[1]) / 1024;
    if (!baseline) {
      baseline = rssMb;
      t.equal(r.status, 0, `${name}: valid`);
      continue;
    }
    t.equal(r.status, 2, `${name}: refused (exit 2)`);
    t.match(r.stdout + r.stderr, /1 MiB/, `${name}: the refusal names the limit`);
    t.ok(rssMb - baseline < 48, `${name}: peak RSS ${rssMb.toFixed(0)} MB vs ${baseline.toFixed(0)} MB for a tiny file (${bytes.length} bytes on disk)`);
  }
});
