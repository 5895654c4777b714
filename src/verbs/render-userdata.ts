import { gzipSync } from 'node:zlib';
import { InvalidInput } from '../base/errors.js';
import { POSTJOIN_PART_TYPE, parseUserData } from '../sources/userdata-mime.js';
import { NODECONFIG_PART_TYPE, nodeconfigProblem } from '../writers/nodeconfig.js';
import { renderMultipart } from '../writers/userdata-render.js';
import { readFlagFile, readTaskFile, requiredString } from './task-file.js';
import type { VerbContext } from './verb.js';

const USAGE = 'postjoin render-userdata --nodeconfig FILE --tasks FILE [--gzip]';
/** EC2 refuses user data past 16 KiB (before its own base64). */
const EC2_USER_DATA_LIMIT = 16 * 1024;

/**
 * Writes a MIME multipart user data with the user's NodeConfig, byte for byte, and their task file as the
 * postjoin part. The NodeConfig is checked as nodeadm decodes it (YAML or JSON, maybe gzip and/or base64,
 * apiVersion and kind it knows). The task file is validated first (every kind allowed: the node's policy applies on the node),
 * so a broken task list never reaches a launch template.
 */
export async function run(ctx: VerbContext): Promise<number> {
  const nodeconfigPath = requiredString(ctx.values, 'nodeconfig', USAGE);
  const tasksPath = requiredString(ctx.values, 'tasks', USAGE);
  const nodeconfig = await readFlagFile(nodeconfigPath, '--nodeconfig', { source: `--nodeconfig ${nodeconfigPath}`, what: 'a NodeConfig' });
  if (isMultipart(nodeconfig)) {
    throw new InvalidInput({ source: `--nodeconfig ${nodeconfigPath}`, message: 'is already MIME multipart user data; give the NodeConfig document itself' });
  }
  // nodeadm would fail on a part it cannot decode, or the node would not get its NodeConfig: refuse it here.
  const why = nodeconfigProblem(nodeconfig);
  if (why) throw new InvalidInput({ source: `--nodeconfig ${nodeconfigPath}`, message: `nodeadm cannot decode it as a NodeConfig: ${why}` });
  // Read as strict UTF-8, as the node decodes our part, so what validated here is what the node reads.
  const tasks = await readTaskFile(tasksPath, '--tasks');
  const mime = renderMultipart([
    { contentType: NODECONFIG_PART_TYPE, body: nodeconfig },
    { contentType: POSTJOIN_PART_TYPE, body: tasks.bytes },
  ]);
  const out = ctx.values.gzip === true ? gzipSync(mime, { level: 9 }) : mime;
  if (out.length > EC2_USER_DATA_LIMIT) {
    const hint = ctx.values.gzip === true ? '' : '; try --gzip';
    process.stderr.write(`postjoin render-userdata: warning: ${out.length} bytes is over EC2's 16 KiB user-data limit${hint}\n`);
  }
  ctx.stdout.write(out);
  return 0;
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
