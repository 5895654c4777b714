import { LineCounter, parseAllDocuments, isMap, isNode, isScalar, visit, type Document } from 'yaml';
import { InvalidInput, type Problem } from './errors.js';
import { findJsonSyntaxError } from './json-syntax.js';
import { oneLine, quoted } from './shown-text.js';

export type PathSegment = string | number;

/** One parsed YAML/JSON document, able to say on which line a path inside it sits. */
export interface ParsedDocument {
  value: unknown;
  /** 0-based position of this document in its text (YAML allows several per file). */
  index: number;
  lineOf(path: readonly PathSegment[]): number | undefined;
}

/** Renders a path the way users read it: `tasks[2].exec.args`. */
export function formatPath(path: readonly PathSegment[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(seg)) out += out ? `.${seg}` : seg;
    else out += `[${quoted(seg)}]`;
  }
  return out;
}

/**
 * Parses YAML (one or more documents) or JSON (exactly one), keeping line numbers so that every error can
 * point into the file. YAML 1.2 core schema: `0644` is the number 644, which is why file modes must be quoted.
 */
export function parseDocuments(text: string, format: 'yaml' | 'json', source: string): ParsedDocument[] {
  if (format === 'json') {
    // A byte order mark is allowed (RFC 8259 lets parsers ignore it, and Windows editors write one); YAML skips it too.
    const json = text.startsWith('\ufeff') ? text.slice(1) : text;
    try {
      JSON.parse(json);
    } catch {
      // Our own scanner, not V8's message: that one may have no position, and it quotes the text around the error.
      const e = findJsonSyntaxError(json) ?? { offset: json.length, message: 'not parseable' };
      throw new InvalidInput({ source, line: json.slice(0, e.offset).split('\n').length, message: `not valid JSON: ${e.message}` });
    }
  }
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter, uniqueKeys: true, prettyErrors: false, strict: true });
  const list = Array.isArray(docs) ? docs : [];
  const problems: Problem[] = [];
  const out: ParsedDocument[] = [];
  list.forEach((doc, index) => {
    for (const e of doc.errors) {
      const line = e.linePos?.[0]?.line ?? lineCounter.linePos(e.pos[0]).line;
      problems.push({ source, line, message: `malformed YAML: ${firstLine(e.message)}` });
    }
    // A warning is an error too: an unknown tag (`!foo`) would otherwise be dropped and its value read as a
    // plain string, and an unknown directive or YAML version read as if it were not there.
    for (const w of doc.warnings) problems.push({ source, line: lineCounter.linePos(w.pos[0]).line, message: warningMessage(w.code, w.message) });
    if (doc.errors.length > 0 || doc.warnings.length > 0) return;
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (err) {
      problems.push({ source, line: unresolvedAliasLine(doc, lineCounter), message: `malformed YAML: ${firstLine((err as Error).message)}` });
      return;
    }
    if (value === null || value === undefined) return; // an empty document, e.g. a trailing `---`
    out.push({ value, index, lineOf: (path) => lineOfPath(doc, lineCounter, path) });
  });
  if (problems.length > 0) throw new InvalidInput(problems);
  if (format === 'json' && out.length > 1) throw new InvalidInput({ source, message: 'a JSON file holds exactly one document' });
  return out;
}

/**
 * toJS names an alias without an anchor before it, but not where it is. Undefined for the other toJS error,
 * too many aliases, which is about the whole document.
 */
function unresolvedAliasLine(doc: Document, lc: LineCounter): number | undefined {
  let line: number | undefined;
  visit(doc, {
    Alias(_, node) {
      if (node.resolve(doc) !== undefined || !node.range) return undefined;
      line = lc.linePos(node.range[0]).line;
      return visit.BREAK;
    },
  });
  return line;
}

function lineOfPath(doc: Document, lc: LineCounter, path: readonly PathSegment[]): number | undefined {
  // Walk down as far as the path exists, so a missing key still points at its parent (but not at line 1
  // for the whole document, which says nothing).
  for (let n = path.length; n >= 1; n--) {
    // A key's own line, not its value's: a block value starts on the line after the key (`pull:` then
    // `images:`), and a problem about `pull` belongs on the line that says `pull`.
    const parent = n === 1 ? doc.contents : doc.getIn(path.slice(0, n - 1), true);
    const key = isMap(parent) ? parent.items.find((pair) => isScalar(pair.key) && String(pair.key.value) === String(path[n - 1]))?.key : undefined;
    if (isNode(key) && key.range) return lc.linePos(key.range[0]).line;
    const node = doc.getIn(path.slice(0, n), true);
    if (isNode(node) && node.range) return lc.linePos(node.range[0]).line;
  }
  return undefined;
}

const CORE_TAGS = 'its tags are !!str, !!int, !!bool, !!float, !!null, !!seq and !!map';

function warningMessage(code: string, message: string): string {
  const tag = code === 'TAG_RESOLVE_FAILED' ? /^Unresolved tag: (\S+)/.exec(message)?.[1] : undefined;
  if (tag) return `unknown YAML tag ${oneLine(tag.replace(/^tag:yaml\.org,2002:/, '!!'), 80)}; postjoin reads plain YAML 1.2 (${CORE_TAGS})`;
  return `YAML warning, refused: ${firstLine(message)}`;
}

/** The yaml library's message without its code frame; it may quote the input, so shown as one line and cut. */
function firstLine(s: string): string {
  return oneLine(s.split('\n')[0] ?? s, 200);
}
