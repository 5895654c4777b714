// Problems about user data quote bytes of it back; a problem is one line (issue 19: found by the user-data
// property, seed 1420042821: an invalid quoted-printable escape before a line break gave a two-line message).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { InvalidInput } from '../../src/base/errors.js';
import { postjoinParts } from '../../src/sources/userdata-mime.js';
import { runCli } from '../helpers/cli.js';

const qpUserData = (body: string, nl = '\n') =>
  Buffer.from(
    ['MIME-Version: 1.0', 'Content-Type: multipart/mixed; boundary="B"', '', '--B', 'Content-Type: application/postjoin+yaml', 'Content-Transfer-Encoding: quoted-printable', '', body, '--B--', ''].join(nl),
    'latin1',
  );

function problemsOf(raw: Buffer) {
  try {
    postjoinParts(raw);
  } catch (err) {
    if (err instanceof InvalidInput) return err.problems;
    throw err;
  }
  return [];
}

t.test('an invalid quoted-printable escape before a line break is one problem in one line, the break shown as \\n', async (t) => {
  t.same(problemsOf(qpUserData('apiVersion: postjoin/v1alpha1=M\nkind: TaskList')), [
    { source: 'userdata:part[0]', message: 'application/postjoin+yaml part: invalid quoted-printable escape "=M\\n"' },
  ]);
  t.same(problemsOf(qpUserData('a=M\r\nb', '\r\n')), [
    { source: 'userdata:part[0]', message: 'application/postjoin+yaml part: invalid quoted-printable escape "=M\\r"' },
  ], 'CRLF: the carriage return is shown, not written');
  t.same(problemsOf(qpUserData('a=\x1b[2J')), [
    { source: 'userdata:part[0]', message: 'application/postjoin+yaml part: invalid quoted-printable escape "=\\u001b["' },
  ], 'an escape sequence cannot clear the terminal of whoever reads the problem');
  t.same(problemsOf(qpUserData('a=\xe2\x80\xa8')), [
    { source: 'userdata:part[0]', message: 'application/postjoin+yaml part: invalid quoted-printable escape "=\u00e2\\u0080"' },
  ], 'bytes that are C1 controls in latin1 are shown escaped');
});

t.test('postjoin validate prints that problem on one line', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'postjoin-ud-msg-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'userdata.mime');
  writeFileSync(file, qpUserData('apiVersion: postjoin/v1alpha1=M\nkind: TaskList'));
  const r = await runCli(['validate', file]);
  t.equal(r.code, 2);
  t.same(r.stdout.split('\n'), [
    `invalid  ${file} (0 tasks)`,
    `userdata:${file}:part[0]: application/postjoin+yaml part: invalid quoted-printable escape "=M\\n"`,
    '1 problem(s) found',
    '',
  ]);
});
