import { gzipSync } from 'node:zlib';
import { InvalidInput } from '../errors.js';
import { POSTJOIN_PART_TYPE, parseUserData } from '../sources/userdata-mime.js';
import { renderMultipart } from '../sources/userdata-render.js';
import { readFlagFile, readTaskFile, requiredString } from './task-file.js';
import type { VerbContext } from './verb.js';

/** nodeadm's media type for its NodeConfig part. */
export const NODECONFIG_PART_TYPE = 'application/node.eks.aws';
const USAGE = 'postjoin render-userdata --nodeconfig FILE --tasks FILE [--gzip]';
/** EC2 refuses user data past 16 KiB (before its own base64). */
const EC2_USER_DATA_LIMIT = 16 * 1024;

/**
 * Writes a MIME multipart user data with the user's NodeConfig, byte for byte, and their task file as the
 * postjoin part. The task file is validated first (every kind allowed: the node's policy applies on the node),
 * so a broken task list never reaches a launch template.
 */
export async function run(ctx: VerbContext): Promise<number> {
  const nodeconfigPath = requiredString(ctx.values, 'nodeconfig', USAGE);
  const tasksPath = requiredString(ctx.values, 'tasks', USAGE);
  const nodeconfig = await readFlagFile(nodeconfigPath, '--nodeconfig', { source: `--nodeconfig ${nodeconfigPath}`, what: 'a NodeConfig' });
  if (parseUserData(nodeconfig).multipart) {
    throw new InvalidInput({ source: `--nodeconfig ${nodeconfigPath}`, message: 'is already MIME multipart user data; give the NodeConfig document itself' });
  }
  if (!/\bkind["']?\s*:\s*["']?NodeConfig\b/.test(nodeconfig.toString('utf8'))) {
    process.stderr.write(`postjoin render-userdata: warning: ${nodeconfigPath} does not look like a NodeConfig (no "kind: NodeConfig"); it is included as given\n`);
  }
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
