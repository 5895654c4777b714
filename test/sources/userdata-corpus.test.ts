import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { InvalidInput } from '../../src/base/errors.js';
import { unwrapLayers } from '../../src/sources/userdata-encoding.js';
import { USER_DATA_LIMIT_BYTES, parseUserData, postjoinParts } from '../../src/sources/userdata-mime.js';
import { tasksFromParts } from '../../src/sources/userdata-source.js';
import { ROOT } from '../helpers/cli.js';

interface Case {
  file: string;
  description: string;
  tasks?: string[];
  notMultipart?: boolean;
  error?: string;
}

const dir = join(ROOT, 'test/fixtures/userdata');
const cases = JSON.parse(readFileSync(join(dir, 'cases.json'), 'utf8')) as Case[];

/** Decodes one user-data file all the way to tasks, as the userdata source does. */
function decode(raw: Buffer): string[] {
  return tasksFromParts(postjoinParts(raw)).map((st) => `${st.origin} ${(st.raw as { name: string }).name}`);
}

t.test('the corpus has at least 15 cases, and covers both outcomes', async (t) => {
  t.ok(cases.length >= 15, `${cases.length} cases`);
  t.ok(cases.filter((c) => c.error).length >= 8, 'malformed ones');
  t.ok(cases.filter((c) => c.tasks?.length).length >= 12, 'ones with tasks');
});

for (const c of cases) {
  t.test(`${c.file}: ${c.description}`, async (t) => {
    const raw = readFileSync(join(dir, c.file));
    if (c.error) {
      const err = t.throws(() => decode(raw)) as unknown;
      t.type(err, InvalidInput);
      t.match((err as Error).message, new RegExp(c.error));
      return;
    }
    if (c.notMultipart) {
      t.same(parseUserData(raw), { multipart: false });
      t.same(decode(raw), []);
      return;
    }
    t.same(decode(raw), c.tasks);
  });
}

t.test('our part split agrees with an independent MIME parser (Python email, as cloud-init uses)', async (t) => {
  try {
    execFileSync('python3', ['-c', 'import email']);
  } catch {
    t.comment('SKIP: python3 is not installed (apt-get install -y python3); the corpus above still ran');
    return;
  }
  // One interpreter for all cases: python3 takes about a second to start here.
  const script = `import base64, email, json, sys
from email.errors import CloseBoundaryNotFoundDefect
docs = [email.message_from_bytes(base64.b64decode(d)) for d in json.load(sys.stdin)]
print(json.dumps([[[p.get_content_type() for p in m.get_payload()], any(isinstance(d, CloseBoundaryNotFoundDefect) for d in m.defects)] for m in docs]))`;
  const multipart = cases.filter((x) => x.tasks);
  const docs = multipart.map((c) => unwrapLayers(readFileSync(join(dir, c.file)), USER_DATA_LIMIT_BYTES, '1 MiB'));
  const theirs = JSON.parse(execFileSync('python3', ['-c', script], { input: JSON.stringify(docs.map((d) => d.toString('base64'))) }).toString()) as [string[], boolean][];
  multipart.forEach((c, i) => {
    const ud = parseUserData(docs[i]!);
    const [types, unclosed] = theirs[i]!;
    // Without the closing boundary Python makes one more part of what follows the last boundary line (even
    // nothing); Go's reader (nodeadm's), which we follow, ends the message there. The parts before agree.
    t.same(ud.multipart ? ud.parts.map((p) => p.contentType) : 'not multipart', unclosed ? types.slice(0, -1) : types, c.file);
  });
});

t.test('the NodeConfig part is left exactly as written, whatever the line ends', async (t) => {
  for (const [file, eol] of [
    ['01-lf.mime', '\n'],
    ['02-crlf.mime', '\r\n'],
  ] as const) {
    const ud = parseUserData(readFileSync(join(dir, file)));
    if (!ud.multipart) throw new Error('multipart expected');
    const nodeconfig = ud.parts[0]!;
    t.equal(nodeconfig.contentType, 'application/node.eks.aws');
    t.ok(nodeconfig.body.toString().startsWith(`apiVersion: node.eks.aws/v1alpha1${eol}kind: NodeConfig${eol}`), file);
    t.ok(nodeconfig.body.toString().endsWith(`cidr: 10.100.0.0/16${eol}`), `${file}: the line break before the boundary is the boundary's`);
  }
});
