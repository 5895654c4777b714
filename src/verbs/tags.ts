import { InvalidInput, formatProblem } from '../base/errors.js';
import { quoted } from '../base/shown-text.js';
import { defaultConfig } from '../config/agent-config.js';
import { kindNamed } from '../kinds/registry.js';
import { TAGS_PER_RESOURCE } from '../sources/tag-grammar.js';
import { compileTags } from '../writers/tag-compile.js';
import { readTaskFile, requiredString } from './task-file.js';
import type { VerbContext } from './verb.js';

const USAGE = 'postjoin tags --tasks FILE [--output text|json] [--other-tags N]';

/**
 * Compiles a task file into EC2 tags: `KEY=VALUE` lines, or with `--output json` the `[{"Key","Value"}]` a
 * launch template's TagSpecifications take. Exit 2, listing every task that cannot be a tag, and printing none.
 */
export async function run(ctx: VerbContext): Promise<number> {
  const file = await readTaskFile(requiredString(ctx.values, 'tasks', USAGE), '--tasks');
  const other = otherTags(ctx.values['other-tags']);
  const { tags, problems } = compileTags(file.tasks, file.plan, `file:${file.path}`);
  if (problems.length > 0) throw new InvalidInput(problems);
  // The instance's own tags share EC2's limit; aws:* ones (Auto Scaling's, the launch template's) do not count.
  const used = tags.length + other;
  const note = `${tags.length} postjoin tag(s)${other ? ` and ${other} other tag(s)` : ''}: ${used} of EC2's ${TAGS_PER_RESOURCE} per instance`;
  if (used > TAGS_PER_RESOURCE) process.stderr.write(`postjoin tags: warning: ${note}; the instance cannot carry them all\n`);
  else process.stderr.write(`postjoin tags: ${note}; the instance's own tags (Name, eks:*, kubernetes.io/*) count too, aws:* ones do not\n`);
  for (const note of [...policyNotes(file.plan.steps, tags), ...READ_PATH_NOTES]) process.stderr.write(`postjoin tags: note: ${note}\n`);
  for (const w of file.plan.warnings ?? []) process.stderr.write(`postjoin tags: warning: ${formatProblem(w)}\n`);
  if (ctx.output === 'json') ctx.stdout.write(`${JSON.stringify(tags, null, 2)}\n`);
  else ctx.stdout.write(tags.map((t) => `${t.Key}=${t.Value}\n`).join(''));
  return 0;
}

/**
 * How a node will read the tags. This verb cannot see the instance's other tags, so it says when metadata can
 * hold them and what the other way costs the account: on EKS that other way is most nodes (docs/sources.md).
 */
const READ_PATH_NOTES = [
  'a node reads these from instance metadata only if its launch template allows tags in metadata; EC2 refuses that when any ' +
    'tag key of the instance holds "/" or a space (kubernetes.io/cluster/…, karpenter.sh/nodepool, k8s.io/cluster-autoscaler/…), ' +
    'and Karpenter never allows it',
  'otherwise each node calls EC2 DescribeInstances at boot, from the per-Region request limit of the account that Karpenter and ' +
    'the VPC CNI call too (2,000 boots in a minute: about 4.6 calls per node, the last tasks up to 75 s late; docs/performance.md, ' +
    'P6); on Karpenter, or for fleets that boot by the thousand, give the tasks as user data (postjoin render-userdata)',
];

function otherTags(v: unknown): number {
  if (v === undefined) return 0;
  const n = Number(v);
  if (typeof v !== 'string' || !/^\d+$/.test(v) || !Number.isSafeInteger(n)) {
    throw new InvalidInput({ source: 'usage', message: `--other-tags takes the number of tags the instance carries besides postjoin's, got ${quoted(String(v))}` });
  }
  return n;
}

/**
 * What the node's default policy will refuse, said now rather than found as exit 2 on a node: the tags compile,
 * but whoever sets them must also widen the node's policy (a deliberate act, since tags are the least trusted source).
 */
function policyNotes(steps: readonly { kind: string; spec?: unknown }[], tags: readonly { Key: string }[]): string[] {
  const allowed = defaultConfig().policy.tags.allow;
  return steps.flatMap((s, i) => {
    const key = tags[i]!.Key;
    if (!allowed.includes(s.kind)) return [`${key} is ${/^[aeiou]/.test(s.kind) ? 'an' : 'a'} ${s.kind} task, which the default policy refuses from tags: the node's policy.tags.allow must list ${s.kind}`];
    const note = kindNamed(s.kind)?.tagForm?.note?.(s.spec);
    return note ? [`${key} ${note}`] : [];
  });
}
