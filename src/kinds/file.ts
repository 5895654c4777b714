import { createHash } from 'node:crypto';
import { mkdir, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';
import { absolutePath } from '../base/fields.js';
import { allowedByGlobs } from '../base/glob.js';
import { oneLine } from '../base/shown-text.js';
import { TaskFailed, defineKind } from './kind.js';

const MODE_HINT =
  'expected a quoted octal string such as "0644"; unquoted, YAML 1.2 reads 0644 as the decimal number 644';

const schema = z
  .strictObject({
    path: absolutePath('file.path').refine((p) => !p.split('/').some((seg) => seg === '.' || seg === '..') && !p.endsWith('/'), {
      message: 'file.path must be a normalized file path (no "." or ".." segments, no trailing "/")',
    }),
    content: z.string({ error: 'expected the file content as a string' }),
    encoding: z.enum(['utf8', 'base64']).default('utf8'),
    mode: z
      .string({ error: MODE_HINT })
      .regex(/^0?[0-7]{3,4}$/, { message: MODE_HINT })
      .default('0644'),
    owner: z.string().regex(/^[A-Za-z0-9_.][A-Za-z0-9_.-]*\$?$/, 'expected a user name or numeric uid').optional(),
    group: z.string().regex(/^[A-Za-z0-9_.][A-Za-z0-9_.-]*\$?$/, 'expected a group name or numeric gid').optional(),
  })
  .refine((s) => s.encoding !== 'base64' || /^[A-Za-z0-9+/\s]*={0,2}\s*$/.test(s.content), {
    message: 'content is not valid base64',
    path: ['content'],
  })
  .meta({ description: 'Writes a file atomically (temporary file, fsync, rename), creating its parent directories.' });

type FileSpec = z.output<typeof schema>;

function bytesOf(spec: FileSpec): Buffer {
  return spec.encoding === 'base64' ? Buffer.from(spec.content, 'base64') : Buffer.from(spec.content, 'utf8');
}

export const fileKind = defineKind({
  kind: 'file',
  summary: 'write a file atomically with mode and owner',
  schema,
  // No tag form: a file's content is more than a tag value holds, and a tagger must not write the node's files.
  tagsByDefault: false,
  checkPolicy(spec, rules) {
    return allowedByGlobs(spec.path, rules.paths) ? [] : [`path ${oneLine(spec.path, 200)} is not allowed (policy.paths: [${rules.paths.join(', ')}])`];
  },
  redact(spec) {
    const bytes = bytesOf(spec);
    const { content: _content, ...rest } = spec;
    return { ...rest, content: { sha256: createHash('sha256').update(bytes).digest('hex'), bytes: bytes.length } };
  },
  async run(spec, ctx) {
    const bytes = bytesOf(spec);
    // The plan checked the path as written; a symlink in a parent directory could still point elsewhere,
    // so the path the write will really land on is checked again. The last component is never followed:
    // rename() replaces a symlink there instead of writing through it.
    const real = await ctx.host.files.resolveParents(spec.path);
    if (real !== spec.path && !allowedByGlobs(real, ctx.policy.paths)) {
      throw new TaskFailed(`${spec.path} resolves to ${real} through a symlink, which policy.paths does not allow`);
    }
    const existing = await stat(spec.path).catch(() => undefined);
    if (existing?.isDirectory()) throw new TaskFailed(`${spec.path} is a directory`);
    let uid = -1;
    let gid = -1;
    try {
      if (spec.owner) uid = await ctx.host.accounts.resolveId('user', spec.owner, { signal: ctx.signal });
      if (spec.group) gid = await ctx.host.accounts.resolveId('group', spec.group, { signal: ctx.signal });
    } catch (err) {
      throw new TaskFailed((err as Error).message);
    }
    const dir = dirname(spec.path);
    await mkdir(dir, { recursive: true, mode: 0o755 });
    try {
      await ctx.host.files.writeAtomic(spec.path, bytes, {
        prepare: async (fh) => {
          if (uid !== -1 || gid !== -1) await fh.chown(uid, gid);
          await fh.chmod(parseInt(spec.mode, 8));
        },
      });
    } catch (err) {
      throw new TaskFailed(`cannot write ${spec.path}: ${(err as Error).message}`);
    }
    ctx.log.info({ path: spec.path, bytes: bytes.length, mode: spec.mode }, `wrote ${spec.path}`);
  },
});
