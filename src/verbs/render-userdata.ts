import { gzipSync } from 'node:zlib';
import { InvalidInput, type Problem } from '../base/errors.js';
import { quoted } from '../base/shown-text.js';
import { POSTJOIN_PART_TYPE, parseUserData } from '../sources/userdata-mime.js';
import { EC2_USER_DATA_LIMIT, GZIP_REFUSAL, karpenterRewriteProblems, karpenterSizeWarning, karpenterTaintFindings } from '../writers/karpenter-userdata.js';
import { NODECONFIG_PART_TYPE, decodeNodeconfig } from '../writers/nodeconfig.js';
import { droppedTaintWarnings, registeredTaints } from '../writers/nodeconfig-taints.js';
import { renderMultipart, type RenderPart } from '../writers/userdata-render.js';
import { readFlagFile, readTaskFile, requiredString } from './task-file.js';
import type { VerbContext } from './verb.js';

const USAGE = 'postjoin render-userdata --tasks FILE [--nodeconfig FILE] [--for karpenter|launch-template] [--gzip]';
const TARGETS = ['karpenter', 'launch-template'] as const;
type Target = (typeof TARGETS)[number];

/**
 * Writes MIME multipart user data: the user's NodeConfig, byte for byte, if given, then their task file as the
 * postjoin part. For a launch template (the default with --nodeconfig) nodeadm reads it as written. For a
 * Karpenter EC2NodeClass (the default without --nodeconfig) Karpenter merges it into user data of its own
 * (writers/karpenter-userdata.ts), so what that merge would break is refused here, before a node boots with it.
 * The task file is validated first (every kind allowed: the node's policy applies on the node).
 */
export async function run(ctx: VerbContext): Promise<number> {
  const tasksPath = requiredString(ctx.values, 'tasks', USAGE);
  const nodeconfigPath = typeof ctx.values.nodeconfig === 'string' && ctx.values.nodeconfig !== '' ? ctx.values.nodeconfig : undefined;
  const target = chooseTarget(ctx.values.for, nodeconfigPath);
  const gzip = ctx.values.gzip === true;
  if (target === 'karpenter' && gzip) throw new InvalidInput({ source: '--gzip', message: GZIP_REFUSAL });
  if (target === 'launch-template' && !nodeconfigPath) {
    throw new InvalidInput({
      source: 'usage',
      message: "--for launch-template needs --nodeconfig FILE: nodeadm reads its NodeConfig from the launch template's user data, and with your own AMI nothing else adds one",
    });
  }

  const warnings: string[] = [];
  const problems: Problem[] = [];
  const parts: RenderPart[] = [];
  if (nodeconfigPath) {
    const source = `--nodeconfig ${nodeconfigPath}`;
    const body = await readNodeconfig(nodeconfigPath, source);
    const taints = registeredTaints(body.value);
    if (target === 'karpenter') {
      const found = karpenterTaintFindings(taints, source);
      problems.push(...found.problems, ...karpenterRewriteProblems(body.bytes, source));
      warnings.push(...found.warnings);
    } else {
      warnings.push(...droppedTaintWarnings(taints).map((w) => `${source}: ${w}`));
    }
    parts.push({ contentType: NODECONFIG_PART_TYPE, body: body.bytes });
  }
  // Read as strict UTF-8, as the node decodes our part, so what validated here is what the node reads.
  const tasks = await readTaskFile(tasksPath, '--tasks').catch((err: unknown) => {
    throw err instanceof InvalidInput && problems.length > 0 ? new InvalidInput([...problems, ...err.problems]) : err;
  });
  if (target === 'karpenter') problems.push(...karpenterRewriteProblems(tasks.bytes, `--tasks ${tasksPath}`));
  if (problems.length > 0) throw new InvalidInput(problems);
  parts.push({ contentType: POSTJOIN_PART_TYPE, body: tasks.bytes });

  const mime = renderMultipart(parts);
  const out = gzip ? gzipSync(mime, { level: 9 }) : mime;
  if (target === 'karpenter') {
    const size = karpenterSizeWarning(out.length);
    if (size) warnings.push(size);
  } else if (out.length > EC2_USER_DATA_LIMIT) {
    warnings.push(`${out.length} bytes is over EC2's 16 KiB user-data limit${gzip ? '' : '; try --gzip'}`);
  }
  if (ctx.values.for === undefined && !nodeconfigPath) {
    process.stderr.write(
      'postjoin render-userdata: note: no --nodeconfig, so this is user data for a Karpenter EC2NodeClass (Karpenter adds the NodeConfig); ' +
        'a launch template needs --nodeconfig. --for karpenter drops this note.\n',
    );
  }
  for (const w of warnings) process.stderr.write(`postjoin render-userdata: warning: ${w}\n`);
  ctx.stdout.write(out);
  return 0;
}

/**
 * Who reads the result. Said with --for; else a NodeConfig means a launch template (nodeadm needs one there),
 * and none means Karpenter, which writes its own. Inferred Karpenter is said once on stderr, because a launch
 * template rendered without --nodeconfig would boot a node that never joins.
 */
function chooseTarget(value: unknown, nodeconfigPath: string | undefined): Target {
  if (value === undefined) return nodeconfigPath ? 'launch-template' : 'karpenter';
  if (!TARGETS.includes(value as Target)) {
    throw new InvalidInput({ source: 'usage', message: `--for is ${TARGETS.join(' or ')}, not ${quoted(value)}; ${USAGE}` });
  }
  return value as Target;
}

/** The NodeConfig file, checked as nodeadm decodes it (YAML or JSON, maybe gzip and/or base64, apiVersion and kind it knows). */
async function readNodeconfig(path: string, source: string): Promise<{ bytes: Buffer; value: Record<string, unknown> }> {
  const bytes = await readFlagFile(path, '--nodeconfig', { source, what: 'a NodeConfig' });
  if (isMultipart(bytes)) throw new InvalidInput({ source, message: 'is already MIME multipart user data; give the NodeConfig document itself' });
  // nodeadm would fail on a part it cannot decode, or the node would not get its NodeConfig: refuse it here.
  const decoded = decodeNodeconfig(bytes);
  if ('problem' in decoded) throw new InvalidInput({ source, message: `nodeadm cannot decode it as a NodeConfig: ${decoded.problem}` });
  return { bytes, value: decoded.value };
}

/** Whether the file is whole MIME multipart user data; one that does not even decode is left to the NodeConfig check. */
function isMultipart(bytes: Buffer): boolean {
  try {
    return parseUserData(bytes).multipart;
  } catch (err) {
    if (err instanceof InvalidInput) return false;
    throw err;
  }
}
