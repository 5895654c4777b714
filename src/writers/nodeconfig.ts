import { parseAllDocuments } from 'yaml';
import { oneLine, quoted } from '../base/shown-text.js';
import { DecodeError, decodeIfBase64, gunzipCapped, isGzip } from '../sources/userdata-encoding.js';
import { USER_DATA_LIMIT_BYTES } from '../sources/userdata-mime.js';

/** nodeadm's media type for its NodeConfig part. */
export const NODECONFIG_PART_TYPE = 'application/node.eks.aws';
/**
 * The NodeConfig versions nodeadm decodes: its scheme registers node.eks.aws/v1alpha1 only
 * (awslabs/amazon-eks-ami, nodeadm/internal/api/bridge/scheme.go, as of 2026-07).
 */
export const NODECONFIG_API_VERSIONS = ['node.eks.aws/v1alpha1'];

/**
 * Why nodeadm could not decode these bytes as the body of its NodeConfig part, or undefined if it could.
 * nodeadm (configprovider/mime.go) reads the part's body, base64-decodes it if all of it is base64 (Go's
 * StdEncoding), gunzips it if it starts with gzip's magic bytes, then decodes it with the Kubernetes universal
 * decoder: YAML or JSON whose apiVersion and kind it knows. A part it cannot decode fails nodeadm; a part that
 * is not a NodeConfig at all never reaches the node's config.
 */
export function nodeconfigProblem(body: Buffer): string | undefined {
  const decoded = decodeNodeconfig(body);
  return 'problem' in decoded ? decoded.problem : undefined;
}

/** The NodeConfig as nodeadm decodes it (see nodeconfigProblem), or why it cannot. */
export function decodeNodeconfig(body: Buffer): { value: Record<string, unknown> } | { problem: string } {
  const problem = (why: string) => ({ problem: why });
  let bytes = decodeIfBase64(body) ?? body;
  if (isGzip(bytes)) {
    try {
      bytes = gunzipCapped(bytes, USER_DATA_LIMIT_BYTES, '1 MiB');
    } catch (err) {
      if (err instanceof DecodeError) return problem(`it ${err.message}`);
      throw err;
    }
  }
  if (bytes.toString('utf8').trim() === '') return problem('it is empty');
  // nodeadm's YAML is not postjoin's strict YAML 1.2: only a document that does not parse at all is refused.
  const docs = parseAllDocuments(bytes.toString('utf8'), { prettyErrors: false });
  const list = (Array.isArray(docs) ? docs : []).filter((d) => d.contents !== null || d.errors.length > 0);
  const broken = list.find((d) => d.errors.length > 0);
  if (broken) {
    const e = broken.errors[0]!;
    const line = bytes.toString('utf8').slice(0, e.pos[0]).split('\n').length;
    return problem(`not YAML or JSON: line ${line}: ${oneLine(e.message.split('\n')[0] ?? '', 200)}`);
  }
  if (list.length > 1) return problem(`it holds ${list.length} YAML documents; nodeadm reads only the first of a part (give each NodeConfig its own part)`);
  let value: unknown;
  try {
    // An alias without its anchor, or an alias bomb, only fails here (yaml's toJS), not while parsing.
    value = list[0]?.toJS({ maxAliasCount: 100 });
  } catch (err) {
    return problem(`not YAML or JSON: ${oneLine((err as Error).message.split('\n')[0] ?? '', 200)}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return problem(`it is not a mapping (a YAML or JSON document with apiVersion and kind), it is ${Array.isArray(value) ? 'a list' : `a ${typeof value}`}`);
  }
  const { apiVersion, kind } = value as Record<string, unknown>;
  if (!NODECONFIG_API_VERSIONS.includes(apiVersion as string)) {
    return problem(`apiVersion is ${apiVersion === undefined ? 'missing' : quoted(apiVersion)}; nodeadm knows ${NODECONFIG_API_VERSIONS.join(', ')}`);
  }
  if (kind !== 'NodeConfig') return problem(`kind is ${kind === undefined ? 'missing' : quoted(kind)}; expected NodeConfig`);
  return { value: value as Record<string, unknown> };
}
