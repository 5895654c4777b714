// Properties of the user-data decoder (src/sources/userdata-encoding.ts, userdata-mime.ts, userdata-source.ts):
// base64, gzip and MIME multipart, the 1 MiB cap, and the round trip through `postjoin render-userdata`.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { isDeepStrictEqual } from 'node:util';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { buildPlan } from '../../../src/plan/build-plan.js';
import { USER_DATA_LIMIT_BYTES, parseUserData, postjoinParts } from '../../../src/sources/userdata-mime.js';
import { tasksFromParts } from '../../../src/sources/userdata-source.js';
import { run as renderUserdata } from '../../../src/verbs/render-userdata.js';
import { everyKindPolicy } from '../../../src/config/agent-config.js';
import { readTaskFile } from '../../../src/verbs/task-file.js';
import { checkInvalidInput, fail, hasPathOrLine, onlyInvalidInput, type LocationRule } from './checks.js';
import type { PropertyDef } from './harness.js';
import { planShape, readsBackAs } from './plan.js';
import { mutate, mutations, spell, spelling, taskDocument, taskList, type Spelling, type TaskObject } from './tasks.js';

/** Decodes user data all the way to a plan, as the userdata source and the run do. */
export function decodeToPlan(raw: Buffer) {
  return buildPlan(tasksFromParts(postjoinParts(raw)), everyKindPolicy());
}

/** A user-data problem names its part (`userdata:part[N]`), or a path or line inside a part's document. */
const locatedInUserData: LocationRule = (p) => /^userdata:part\[\d+\]/.test(p.source) || p.source === 'userdata' || hasPathOrLine(p);

// ---- building user data ------------------------------------------------------------------------------

interface PartSpec {
  contentType: string;
  params: string;
  cte: 'none' | 'base64' | 'quoted-printable' | '7bit' | 'binary' | 'x-unknown';
  gzip: boolean;
  body: { tasks: TaskObject[]; spelling: Spelling } | { bytes: Uint8Array };
  headerCase: 'lower' | 'canonical' | 'upper';
}

interface MimeSpec {
  boundary: string;
  quoteBoundary: boolean;
  crlf: boolean;
  preamble: string;
  epilogue: string;
  parts: PartSpec[];
  /** Outer layers, innermost first. */
  layers: ('gzip' | 'base64' | 'base64-wrapped')[];
  /** After the last part: the closing boundary; a plain boundary line, as Karpenter's examples end; or nothing (cut off). */
  ending: 'closing' | 'boundary-line' | 'none';
}

const partSpec: fc.Arbitrary<PartSpec> = fc.record({
  contentType: fc.constantFrom('application/postjoin+yaml', 'application/postjoin+yaml', 'Application/Postjoin+YAML', 'application/node.eks.aws', 'text/x-shellscript', 'text/cloud-config', 'text/plain'),
  params: fc.constantFrom('', '; charset=utf-8', '; charset="us-ascii"', ';', '; name=x; y="a;b"'),
  cte: fc.constantFrom('none', 'none', 'base64', 'quoted-printable', '7bit', 'binary', 'x-unknown'),
  gzip: fc.boolean(),
  body: fc.oneof(
    { weight: 3, arbitrary: fc.record({ tasks: taskList({ maxTasks: 2 }), spelling: spelling.map((s) => ({ ...s, format: 'yaml' as const })) }) },
    { weight: 1, arbitrary: fc.record({ bytes: fc.uint8Array({ maxLength: 200 }) }) },
  ),
  headerCase: fc.constantFrom('lower', 'canonical', 'upper'),
});

export const mimeSpec: fc.Arbitrary<MimeSpec> = fc.record({
  boundary: fc.oneof(fc.stringMatching(/^[A-Za-z0-9'()+_,./:=?-]{1,40}$/), fc.constantFrom('==BOUNDARY==', 'b', '----=_Part_0')),
  quoteBoundary: fc.boolean(),
  crlf: fc.boolean(),
  preamble: fc.constantFrom('', 'This is a multi-part message in MIME format.\n', '\n'),
  epilogue: fc.constantFrom('', 'trailing words\n', '\n\n'),
  parts: fc.array(partSpec, { maxLength: 4 }),
  layers: fc.array(fc.constantFrom('gzip' as const, 'base64' as const, 'base64-wrapped' as const), { maxLength: 3 }),
  ending: fc.oneof({ weight: 7, arbitrary: fc.constant('closing' as const) }, { weight: 2, arbitrary: fc.constant('boundary-line' as const) }, { weight: 1, arbitrary: fc.constant('none' as const) }),
});

const caseHeader = (name: string, c: PartSpec['headerCase']) => (c === 'lower' ? name.toLowerCase() : c === 'upper' ? name.toUpperCase() : name);

function qp(bytes: Buffer, binary: boolean): string {
  let out = '';
  let col = 0;
  // In text, a CRLF is a line break of the encoding, as in any canonical encoder; in binary (gzip) every CR and
  // LF is escaped, since a decoder keeps line breaks as written.
  for (const [i, b] of bytes.entries()) {
    if (!binary && b === 0x0d && bytes[i + 1] === 0x0a) continue;
    const chunk = b === 0x0a && !binary ? '\n' : (b >= 33 && b <= 126 && b !== 61) || b === 32 ? String.fromCharCode(b) : `=${b.toString(16).toUpperCase().padStart(2, '0')}`;
    if (chunk === '\n') col = 0;
    else if (col + chunk.length > 72) {
      out += '=\n';
      col = 0;
    }
    out += chunk;
    col += chunk === '\n' ? 0 : chunk.length;
  }
  return out.replace(/ (?=\n|$)/g, '=20');
}

function b64(data: Buffer, wrap: boolean): string {
  const s = data.toString('base64');
  return wrap ? (s.match(/.{1,76}/g) ?? ['']).join('\n') : s;
}

export function buildMime(spec: MimeSpec): Buffer {
  const nl = spec.crlf ? '\r\n' : '\n';
  const boundaryParam = spec.quoteBoundary ? `"${spec.boundary}"` : spec.boundary;
  const chunks: Buffer[] = [Buffer.from(`MIME-Version: 1.0${nl}Content-Type: multipart/mixed; boundary=${boundaryParam}${nl}${nl}${spec.preamble}`)];
  for (const p of spec.parts) {
    let body = 'tasks' in p.body ? Buffer.from(spell(taskDocument(p.body.tasks), p.body.spelling)) : Buffer.from(p.body.bytes);
    if (p.gzip) body = gzipSync(body);
    let encoded: Buffer;
    let cteHeader = '';
    if (p.cte === 'base64') {
      encoded = Buffer.from(b64(body, true).replace(/\n/g, nl));
      cteHeader = `${caseHeader('Content-Transfer-Encoding', p.headerCase)}: base64${nl}`;
    } else if (p.cte === 'quoted-printable') {
      encoded = Buffer.from(qp(body, p.gzip).replace(/\n/g, nl), 'latin1');
      cteHeader = `${caseHeader('Content-Transfer-Encoding', p.headerCase)}: quoted-printable${nl}`;
    } else {
      encoded = body;
      if (p.cte !== 'none') cteHeader = `${caseHeader('Content-Transfer-Encoding', p.headerCase)}: ${p.cte}${nl}`;
    }
    chunks.push(Buffer.from(`--${spec.boundary}${nl}${caseHeader('Content-Type', p.headerCase)}: ${p.contentType}${p.params}${nl}${cteHeader}${nl}`), encoded, Buffer.from(nl));
  }
  if (spec.ending === 'closing') chunks.push(Buffer.from(`--${spec.boundary}--${nl}${spec.epilogue}`));
  if (spec.ending === 'boundary-line') chunks.push(Buffer.from(`--${spec.boundary}${nl}`));
  let out = Buffer.concat(chunks);
  for (const layer of spec.layers) out = layer === 'gzip' ? gzipSync(out) : Buffer.from(b64(out, layer === 'base64-wrapped'));
  return out;
}

/** Raw bytes that are user data, nearly user data, or nothing like it. */
export const userDataBytes: fc.Arbitrary<Buffer> = fc.oneof(
  { weight: 4, arbitrary: mimeSpec.map(buildMime) },
  { weight: 3, arbitrary: fc.tuple(mimeSpec, fc.array(fc.record({ at: fc.nat(), flip: fc.integer({ min: 1, max: 255 }) }), { maxLength: 4 }), fc.option(fc.nat(), { nil: undefined })).map(([s, flips, cut]) => {
    const b = Buffer.from(buildMime(s));
    for (const f of flips) if (b.length > 0) b[f.at % b.length] = (b[f.at % b.length] ?? 0) ^ f.flip;
    return cut === undefined || b.length === 0 ? b : b.subarray(0, cut % b.length);
  }) },
  { weight: 2, arbitrary: fc.tuple(mimeSpec, mutations).map(([s, ms]) => Buffer.from(mutate(buildMime(s).toString('latin1'), ms), 'latin1')) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 2000 }).map((a) => Buffer.from(a)) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 2000 }).map((a) => gzipSync(a)) },
  { weight: 1, arbitrary: fc.string({ maxLength: 300 }).map((s) => Buffer.from(s)) },
);

// ---- the decompression cap ------------------------------------------------------------------------------

/** gzip bombs, made once: highly compressible bodies around and far past the 1 MiB cap. */
const BOMB_SIZES = [USER_DATA_LIMIT_BYTES - 1, USER_DATA_LIMIT_BYTES, USER_DATA_LIMIT_BYTES + 1, 2 * USER_DATA_LIMIT_BYTES, 64 * USER_DATA_LIMIT_BYTES];
const bombs = new Map<number, Buffer>();
function bomb(size: number): Buffer {
  let b = bombs.get(size);
  if (!b) {
    b = gzipSync(Buffer.alloc(size, 'a'), { level: 9 });
    bombs.set(size, b);
  }
  return b;
}

interface CapCase {
  size: number;
  /** Where the bomb sits: the whole user data, or a postjoin part (how many such parts). */
  inParts: number;
  cte: 'none' | 'base64';
  /** Layers around it, innermost first; a gzip layer compresses the bomb again (42.zip style). */
  layers: ('gzip' | 'base64')[];
}

export const capCase: fc.Arbitrary<CapCase> = fc.record({
  size: fc.constantFrom(...BOMB_SIZES),
  inParts: fc.constantFrom(0, 1, 2, 3),
  cte: fc.constantFrom('none', 'base64'),
  layers: fc.array(fc.constantFrom('gzip' as const, 'base64' as const), { maxLength: 3 }),
});

export function buildCapCase(c: CapCase): Buffer {
  let out: Buffer;
  if (c.inParts === 0) out = bomb(c.size);
  else {
    const part = bomb(c.size);
    const body = c.cte === 'base64' ? Buffer.from(b64(part, true)) : part;
    const chunks: Buffer[] = [Buffer.from('MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="B"\n\n')];
    for (let i = 0; i < c.inParts; i++) {
      chunks.push(Buffer.from(`--B\nContent-Type: application/postjoin+yaml\n${c.cte === 'base64' ? 'Content-Transfer-Encoding: base64\n' : ''}\n`), body, Buffer.from('\n'));
    }
    chunks.push(Buffer.from('--B--\n'));
    out = Buffer.concat(chunks);
  }
  for (const layer of c.layers) out = layer === 'gzip' ? gzipSync(out) : Buffer.from(b64(out, true));
  return out;
}

// ---- render-userdata ------------------------------------------------------------------------------------

interface RenderCase {
  tasks: TaskObject[];
  spelling: Spelling;
  /** Bytes spliced into a leading comment of the task file: non-UTF-8 bytes are the interesting ones. */
  comment: Uint8Array | undefined;
  /** The --nodeconfig file; `decodable` when it is one nodeadm decodes (render must then not refuse it). */
  nodeconfig: { bytes: Uint8Array | string; decodable: boolean };
  gzip: boolean;
  /** Launch templates carry user data base64-encoded; IMDS hands back the decoded bytes, but tools may not. */
  base64: boolean;
}

export const renderCase: fc.Arbitrary<RenderCase> = fc.record({
  tasks: taskList({ groups: true, maxTasks: 3 }),
  spelling,
  comment: fc.option(fc.uint8Array({ minLength: 1, maxLength: 8 }), { nil: undefined }),
  nodeconfig: fc.oneof(
    {
      weight: 3,
      arbitrary: fc
        .record({
          text: fc.constantFrom(
            'apiVersion: node.eks.aws/v1alpha1\nkind: NodeConfig\nspec:\n  cluster:\n    name: c\n',
            '---\r\napiVersion: node.eks.aws/v1alpha1\r\nkind: NodeConfig\r\nspec: {}',
            '{"apiVersion":"node.eks.aws/v1alpha1","kind":"NodeConfig","spec":{}}',
          ),
          gzip: fc.boolean(),
          base64: fc.boolean(),
        })
        .map(({ text, gzip, base64 }) => {
          let b = Buffer.from(text);
          if (gzip) b = gzipSync(b);
          if (base64) b = Buffer.from(b.toString('base64'));
          return { bytes: b, decodable: true };
        }),
    },
    {
      weight: 1,
      arbitrary: fc
        .oneof(fc.constantFrom('kind: NodeConfig\r\n', '#!/bin/bash\necho hi\n', '', 'apiVersion: v1\nkind: Pod\n'), fc.uint8Array({ maxLength: 300 }), fc.string({ maxLength: 200 }))
        .map((bytes) => ({ bytes, decodable: false })),
    },
  ),
  gzip: fc.boolean(),
  base64: fc.boolean(),
});

function sink(): { stream: Writable; bytes: () => Buffer } {
  const chunks: Buffer[] = [];
  return {
    stream: new Writable({
      write(c: Buffer | string, _e, cb) {
        chunks.push(Buffer.from(c));
        cb();
      },
    }),
    bytes: () => Buffer.concat(chunks),
  };
}

const renderDir = mkdtempSync(join(tmpdir(), 'postjoin-prop-render-'));
process.on('exit', () => rmSync(renderDir, { recursive: true, force: true }));

/** The task file as bytes: the spelled document, with the comment bytes in a leading comment line. */
function taskFileBytes(c: RenderCase): Buffer {
  const textIn = spell(taskDocument(c.tasks), c.spelling);
  if (!c.comment || c.spelling.format === 'json') return Buffer.from(textIn);
  const bom = textIn.startsWith('\ufeff') ? 1 : 0;
  const head = Buffer.from(textIn.slice(0, bom));
  return Buffer.concat([head, Buffer.from('# '), Buffer.from(c.comment.map((b) => (b === 0x0a || b === 0x0d ? 0x20 : b))), Buffer.from('\n'), Buffer.from(textIn.slice(bom))]);
}

export const userdataProperties = [
  {
    parser: 'userdata',
    name: 'any bytes decode to a plan or InvalidInput naming the user data, a part, or a path or line in one',
    arbitrary: userDataBytes,
    runs: 600,
    check(raw: Buffer) {
      onlyInvalidInput(() => decodeToPlan(raw), 'userdata', locatedInUserData);
    },
  } satisfies PropertyDef<Buffer>,
  {
    parser: 'userdata',
    name: 'well-formed user data gives exactly its postjoin parts, in order, each task as written',
    arbitrary: mimeSpec.filter((s) => s.ending !== 'none' && s.parts.every((p) => p.cte !== 'x-unknown' && 'tasks' in p.body)),
    runs: 300,
    check(spec: MimeSpec) {
      const raw = buildMime(spec);
      const ours = spec.parts.map((p, i) => ({ p, i })).filter(({ p }) => p.contentType.toLowerCase() === 'application/postjoin+yaml');
      const names = new Set<string>();
      const unique = ours.every(({ p }) => 'tasks' in p.body && p.body.tasks.every((t) => !names.has(t.name) && names.add(t.name)));
      const got = onlyInvalidInput(() => decodeToPlan(raw), 'userdata', locatedInUserData);
      if (!unique) return; // the same name in two parts is refused, rightly
      // A spelling the yaml library cannot read back itself (see the plan properties) is not well-formed.
      if (!ours.every(({ p }) => 'tasks' in p.body && readsBackAs(spell(taskDocument(p.body.tasks), p.body.spelling), taskDocument(p.body.tasks)))) return;
      if (!got.ok) fail(`well-formed user data refused: ${got.err.message}`);
      const origins = got.value.steps.map((s) => s.origin.replace(/#.*/, ''));
      const want = ours.flatMap(({ p, i }) => ('tasks' in p.body ? p.body.tasks.map(() => `userdata:part[${i}]`) : []));
      if (!isDeepStrictEqual(origins, want)) fail(`origins ${JSON.stringify(origins)}, expected ${JSON.stringify(want)}`);
    },
  } satisfies PropertyDef<MimeSpec>,
  {
    parser: 'userdata',
    name: 'decompression is capped at 1 MiB for any bomb, and the refusal names the limit',
    arbitrary: capCase,
    runs: 60,
    maxCaseMs: 5_000,
    check(c: CapCase) {
      const raw = buildCapCase(c);
      const before = process.memoryUsage().arrayBuffers;
      let parts: { text: string }[] = [];
      try {
        const ud = parseUserData(raw);
        if (ud.multipart) {
          for (const p of ud.parts) if (p.body.length > raw.length + USER_DATA_LIMIT_BYTES) fail(`a part of ${p.body.length} bytes`);
        }
        parts = postjoinParts(raw);
      } catch (err) {
        const e = checkInvalidInput(err, 'userdata', locatedInUserData);
        if (!e.problems.some((p) => /1 MiB/.test(p.message)) && !/not UTF-8|malformed/.test(e.message)) fail(`refused without naming the limit: ${e.message}`);
        return;
      }
      const total = parts.reduce((n, p) => n + Buffer.byteLength(p.text), 0);
      if (total > USER_DATA_LIMIT_BYTES) fail(`${total} bytes of postjoin parts decoded, past the 1 MiB cap`);
      const grew = process.memoryUsage().arrayBuffers - before;
      if (grew > 64 * USER_DATA_LIMIT_BYTES) fail(`array buffers grew by ${grew} bytes`);
    },
  } satisfies PropertyDef<CapCase>,
  {
    parser: 'userdata',
    name: 'render-userdata then the node\'s decoder gives the task file\'s own plan',
    arbitrary: renderCase,
    runs: 200,
    async check(c: RenderCase) {
      const ext = c.spelling.format === 'json' ? 'json' : 'yaml';
      const tasksPath = join(renderDir, `tasks.${ext}`);
      const nodeconfigPath = join(renderDir, 'nodeconfig.yaml');
      writeFileSync(tasksPath, taskFileBytes(c));
      writeFileSync(nodeconfigPath, typeof c.nodeconfig.bytes === 'string' ? c.nodeconfig.bytes : Buffer.from(c.nodeconfig.bytes));
      const out = sink();
      const stderrWrite = process.stderr.write;
      process.stderr.write = (() => true) as typeof process.stderr.write; // the verb's warnings (not a NodeConfig, size)
      let file;
      try {
        await renderUserdata({
          configPath: '/nonexistent', configGiven: false, stateDir: '/nonexistent', logLevel: 'error', output: 'text',
          values: { nodeconfig: nodeconfigPath, tasks: tasksPath, gzip: c.gzip }, positionals: [], stdout: out.stream,
        });
        file = await readTaskFile(tasksPath, '--tasks');
      } catch (err) {
        // render refuses what it cannot stand behind: an invalid task file, or a NodeConfig nodeadm cannot decode.
        const e = checkInvalidInput(err, '', () => true);
        if (c.nodeconfig.decodable && e.problems.some((p) => p.source.startsWith('--nodeconfig'))) fail(`refused a NodeConfig nodeadm decodes: ${e.message}`);
        return;
      } finally {
        process.stderr.write = stderrWrite;
      }
      let raw = out.bytes();
      if (c.base64) raw = Buffer.from(raw.toString('base64'));
      const node = onlyInvalidInput(() => decodeToPlan(raw), 'userdata', locatedInUserData);
      if (!node.ok) fail(`render-userdata accepted the task file, the node refuses its user data: ${node.err.message}`);
      if (!isDeepStrictEqual(planShape(node.value), planShape(file.plan))) fail(`the node's plan differs:\n${JSON.stringify(planShape(node.value))}\n${JSON.stringify(planShape(file.plan))}`);
      if (node.value.steps.some((s) => !s.origin.startsWith('userdata:part[1]#'))) fail('an origin is not userdata:part[1]#…');
    },
  } satisfies PropertyDef<RenderCase>,
] as const;

