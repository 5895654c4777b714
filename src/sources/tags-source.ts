import { InvalidInput } from '../base/errors.js';
import { quoted } from '../base/shown-text.js';
import type { ImdsClient } from '../host/aws/imds-client.js';
import { readIdentityDocument } from '../host/aws/imds-identity.js';
import type { SourcedTask } from '../plan/sourced-task.js';
import { defineSource, imdsOf, type SourceContext } from './source.js';
import { ENABLED_KEY, TAG_KEY_CHARS, TAG_PREFIX, tasksFromTags } from './tag-grammar.js';

export const TAGS_PATH = '/latest/meta-data/tags/instance';

/**
 * The instance's `postjoin:*` tags (design §7). IMDS first; when tags are not in instance metadata (404),
 * EC2 DescribeInstances, whose permission the EKS worker node policy already grants.
 */
export const tagsSource = defineSource({
  name: 'tags',
  needsImds: true,
  // Whoever can tag the instance is trusted least (design §4): by default only the kinds that run no code of theirs.
  defaultAllow: (kinds) => kinds.filter((k) => k.tagsByDefault).map((k) => k.kind),
  async read(ctx: SourceContext): Promise<SourcedTask[]> {
    const imds = imdsOf(ctx);
    let tags = await tagsFromImds(imds);
    if (tags === undefined) {
      const { instanceId, region } = await readIdentityDocument(imds);
      // Info, once: EC2's API is shared by the whole account, and whoever reads the journal should know why this
      // node called it. On EKS this is the usual path, not a misconfiguration (docs/sources.md, How the node reads them).
      ctx.log.info(
        { instanceId, region },
        'tags are not in instance metadata (IMDS answered 404), so this node reads them with EC2 DescribeInstances: usual on EKS, ' +
          'where Karpenter never allows tags in metadata and EC2 refuses them when any tag key holds "/" (kubernetes.io/cluster/…)',
      );
      // Loaded only here: the EC2 client is most of the bundle, and most nodes never need it.
      const { describeInstanceTags } = await import('../host/aws/ec2-describe-tags.js');
      tags = await describeInstanceTags({ instanceId, region, log: ctx.log, ...(ctx.stop ? { stop: ctx.stop } : {}) });
    }
    const enabled = tags.get(ENABLED_KEY)?.trim().toLowerCase();
    if (enabled !== undefined && enabled !== 'true' && enabled !== 'false') {
      ctx.log.warn(`tag ${ENABLED_KEY}=${quoted(tags.get(ENABLED_KEY))} is neither true nor false; the tags source stays on`);
    }
    const outcome = tasksFromTags(tags);
    if (!outcome.enabled) {
      ctx.log.info(`tag ${ENABLED_KEY}=false: the tags source is off for this instance`);
      return [];
    }
    if (outcome.problems.length > 0) throw new InvalidInput(outcome.problems);
    return outcome.tasks;
  },
});

/** Only `postjoin:` values are fetched: one request per key, and other tags are none of our business. */
async function tagsFromImds(imds: ImdsClient): Promise<Map<string, string> | undefined> {
  const list = await imds.getText(TAGS_PATH);
  if (list === undefined) return undefined;
  const tags = new Map<string, string>();
  for (const key of list.split(/\r?\n/).filter((k) => k.startsWith(TAG_PREFIX))) {
    // IMDS only exposes keys of [A-Za-z0-9+=._:@-], all legal in a URL path, and is asked for them as written
    // (`…/tags/instance/aws:autoscaling:groupName`); percent-encoding `:` is not something to count on.
    const segment = TAG_KEY_CHARS.test(key) ? key : encodeURIComponent(key);
    const value = await imds.getText(`${TAGS_PATH}/${segment}`);
    if (value !== undefined) tags.set(key, value); // a tag removed between the two reads is simply gone
  }
  return tags;
}
