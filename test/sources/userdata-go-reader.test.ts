// postjoin's MIME split against the real thing: Go's mime/multipart, which nodeadm (and Karpenter) read user
// data with. A small Go program (test/helpers/go-multipart) reads each document as nodeadm does; postjoin must
// find the same parts with the same bytes, and refuse exactly what Go refuses, never naming a part that is
// not there. Needs the Go toolchain (apt-get install golang-go); CI installs it.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { InvalidInput } from '../../src/base/errors.js';
import { unwrapLayers } from '../../src/sources/userdata-encoding.js';
import { USER_DATA_LIMIT_BYTES, parseUserData } from '../../src/sources/userdata-mime.js';
import { requireReal, which } from '../harness/require-real.js';
import { ROOT } from '../helpers/cli.js';

const run = promisify(execFile);

interface GoResult {
  multipart: boolean;
  parts: { type: string; body: string }[] | null;
  err?: string;
}

/** Builds the Go reader once, offline (no module downloads, no toolchain switch). */
async function buildReader(): Promise<string> {
  const out = mkdtempSync(join(tmpdir(), 'postjoin-go-multipart-'));
  t.teardown(() => rmSync(out, { recursive: true, force: true }));
  const cache = join(tmpdir(), 'postjoin-go-build-cache');
  mkdirSync(cache, { recursive: true });
  const env = { ...process.env, GOCACHE: cache, GOPATH: join(cache, 'gopath'), GOPROXY: 'off', GOTOOLCHAIN: 'local', GOFLAGS: '' };
  await run('go', ['build', '-o', join(out, 'go-multipart'), '.'], { cwd: join(ROOT, 'test/helpers/go-multipart'), env, timeout: 300_000 });
  return join(out, 'go-multipart');
}

async function goRead(bin: string, docs: Buffer[]): Promise<GoResult[]> {
  const child = execFile(bin, [], { maxBuffer: 64 * 1024 * 1024 });
  const out = new Promise<string>((resolve, reject) => {
    let s = '';
    child.stdout!.on('data', (c: Buffer) => (s += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(s) : reject(new Error(`go-multipart exited ${code}`))));
  });
  child.stdin!.end(JSON.stringify(docs.map((d) => d.toString('base64'))));
  return JSON.parse(await out) as GoResult[];
}

type Ours = { multipart: false } | { multipart: true; parts: { type: string; body: string }[] } | { error: InvalidInput };

function ours(doc: Buffer): Ours {
  try {
    const ud = parseUserData(doc);
    if (!ud.multipart) return { multipart: false };
    return { multipart: true, parts: ud.parts.map((p) => ({ type: p.contentType, body: p.body.toString('base64') })) };
  } catch (err) {
    if (err instanceof InvalidInput) return { error: err };
    throw err;
  }
}

const HEAD = 'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="//"\n\n--//\nContent-Type: a/b\n\nhello\n';
const crlf = (s: string) => s.replace(/\r?\n/g, '\r\n');
/** How a document may end after its last part, as users and tools have written it. */
const ENDINGS = ['--//--\n', '--//--', '--//\n', '--//  \t\n', '--//', '--//\n\n', '--//\n\n\n', '--//\nContent-Type: c/d\n', '--//\nContent-Type: c/d', '--//\nfoo', '--//\n   ', '', '--//\n\nbody', '--//\n\nbody\n', 'trailing text\n'];
/**
 * What we refuse on purpose where Go reads on without a word: a last postjoin part that the message ends inside
 * its headers would be dropped in silence.
 */
const CUT_OFF_POSTJOIN_HEADERS = '--//\nContent-Type: application/postjoin+yaml\n';
const endsInPostjoinHeaders = (doc: Buffer) => /\n--[^\r\n]*\r?\nContent-Type: application\/postjoin\+yaml\r?\n?$/.test(doc.toString('latin1'));

t.test('postjoin splits user data as Go\'s mime/multipart (nodeadm\'s reader) does', async (t) => {
  if (!(await requireReal(t, 'Go toolchain', async () => (await which('go')) !== undefined, 'apt-get install -y --no-install-recommends golang-go'))) return;
  const bin = await buildReader();
  const dir = join(ROOT, 'test/fixtures/userdata');
  const corpus = (JSON.parse(readFileSync(join(dir, 'cases.json'), 'utf8')) as { file: string }[]).flatMap(({ file }) => {
    try {
      return [{ name: file, doc: unwrapLayers(readFileSync(join(dir, file)), USER_DATA_LIMIT_BYTES, '1 MiB') }];
    } catch {
      return []; // a gzip bomb: refused before any MIME is read
    }
  });
  const built = [...ENDINGS, CUT_OFF_POSTJOIN_HEADERS].flatMap((end) => [
    { name: `ends ${JSON.stringify(end)}`, doc: Buffer.from(HEAD + end) },
    { name: `CRLF, ends ${JSON.stringify(crlf(end))}`, doc: Buffer.from(crlf(HEAD + end)) },
  ]);
  const docs = [...corpus, ...built];
  const theirs = await goRead(bin, docs.map((d) => d.doc));
  docs.forEach(({ name, doc }, i) => {
    const go = theirs[i]!;
    const mine = ours(doc);
    const refusedOnPurpose = endsInPostjoinHeaders(doc);
    if ('error' in mine) {
      t.ok(go.err !== undefined || refusedOnPurpose || !go.multipart, `${name}: Go refuses it too (${go.err ?? 'Go reads it'}): ${mine.error.message}`);
      // A problem names the whole user data, or a part that is there: one Go returned, or the one Go failed
      // inside (its body cut off: "part N: unexpected EOF"; its headers malformed), or our cut-off postjoin part.
      const goParts = go.parts?.length ?? 0;
      const goFailedIn = /^part (\d+):/.exec(go.err ?? '')?.[1] ?? (/malformed MIME header/.test(go.err ?? '') || refusedOnPurpose ? String(goParts) : undefined);
      for (const p of mine.error.problems) {
        const n = /^userdata:part\[(\d+)\]/.exec(p.source)?.[1];
        if (n !== undefined) t.ok(Number(n) < goParts || n === goFailedIn, `${name}: names part[${n}], which is there`);
        else t.equal(p.source, 'userdata', `${name}: names the user data`);
      }
      return;
    }
    t.notOk(refusedOnPurpose, `${name}: a postjoin part cut off in its headers is refused`);
    if (!mine.multipart) {
      t.notOk(go.multipart && go.err === undefined && (go.parts?.length ?? 0) > 0, `${name}: not multipart for us; Go finds no parts either`);
      return;
    }
    t.equal(go.err, undefined, `${name}: Go reads it without an error, as we do`);
    t.same(mine.parts, go.parts ?? [], `${name}: the same parts, the same bytes`);
  });
});
