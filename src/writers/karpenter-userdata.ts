import type { Problem } from '../base/errors.js';
import type { RegisteredTaints } from './nodeconfig-taints.js';

/**
 * What Karpenter does to an EC2NodeClass `userData` on AL2023 (aws/karpenter-provider-aws,
 * pkg/providers/amifamily/bootstrap/nodeadm.go and bootstrap/mime/mime.go): it takes the text for MIME only
 * when, trimmed, it starts with "MIME-Version:" or "Content-Type:"; reads its parts with Go's mime/multipart;
 * writes them again, keeping only each part's Content-Type, with its fixed boundary "//"; appends its own
 * NodeConfig part; and removes every CR from the result. test/helpers/karpenter-merge does the same in Go.
 */
export const KARPENTER_BOUNDARY = '//';

/** EC2 refuses user data past 16 KiB (before its own base64). */
export const EC2_USER_DATA_LIMIT = 16 * 1024;

/**
 * About what Karpenter's own NodeConfig part adds: measured on its shape (bootstrap/nodeadm.go, the launch
 * template test's golden files) with an RSA-2048 cluster CA, a NodePool with the handoff label and startup
 * taint, and the kubelet settings it writes (test/writers/render-userdata-karpenter-merge.test.ts).
 */
export const KARPENTER_NODECONFIG_BYTES = 2_560;

export const GZIP_REFUSAL =
  'Karpenter takes an EC2NodeClass userData as MIME only when it starts with "MIME-Version:" or "Content-Type:"; ' +
  "gzip'ed, it would become a shell-script part and the postjoin part would never reach the node. " +
  'Leave out --gzip (an EC2NodeClass userData is text)';

/**
 * Lines of a part's body that Karpenter's rewrite would change the meaning of, 1-based. Go's multipart reader
 * ends a part at a line that starts with "--" and the boundary and goes on with the end of the data, a blank
 * (space, tab, CR, LF) or "--" (mime/multipart: scanUntilBoundary, matchAfterPrefix); with Karpenter's boundary
 * that is "--//". A CR that ends no CRLF is a line break to YAML, and Karpenter removes it.
 */
export function karpenterRewriteProblems(body: Buffer, source: string): Problem[] {
  const text = body.toString('latin1');
  const problems: Problem[] = [];
  const dash = `--${KARPENTER_BOUNDARY}`;
  text.split('\n').forEach((line, i) => {
    const after = line.slice(dash.length);
    if (line.startsWith(dash) && (after === '' || /^[ \t\r]/.test(after) || after.startsWith('--'))) {
      problems.push({
        source,
        line: i + 1,
        message: `starts with "${dash}", Karpenter's MIME boundary: Karpenter rewrites the user data with that boundary, and the part would end at this line; change the line`,
      });
    }
    if (/\r(?!$)/.test(line)) {
      problems.push({
        source,
        line: i + 1,
        message: 'has a carriage return (CR) that ends no CRLF: Karpenter removes every CR when it merges user data, which would join this line with the next',
      });
    }
  });
  return problems;
}

/** A NodeConfig part for Karpenter: a --register-with-taints flag is refused, registerWithTaints in its config is lost. */
export function karpenterTaintFindings(r: RegisteredTaints, source: string): { problems: Problem[]; warnings: string[] } {
  const problems = r.flags.map((f) => ({
    source,
    message:
      `spec.kubelet.flags[${f.index}] is --register-with-taints: on a Karpenter node the kubelet's flags override the registerWithTaints of Karpenter's own NodeConfig, ` +
      "dropping karpenter.sh/unregistered:NoExecute and the NodePool's taints and startupTaints; set taints in the NodePool (spec.template.spec.taints, startupTaints) instead",
  }));
  const warnings = r.config
    ? [`${source}: spec.kubelet.config.registerWithTaints is replaced by Karpenter's own NodeConfig, which nodeadm merges after this one; set taints in the NodePool (spec.template.spec.taints, startupTaints)`]
    : [];
  return { problems, warnings };
}

/** A warning when the user data leaves too little room for Karpenter's own part under EC2's limit. */
export function karpenterSizeWarning(bytes: number): string | undefined {
  if (bytes + KARPENTER_NODECONFIG_BYTES <= EC2_USER_DATA_LIMIT) return undefined;
  const room = EC2_USER_DATA_LIMIT - bytes;
  const left = room > 0 ? `leaves only ${room} bytes` : 'leaves no room';
  return (
    `${bytes} bytes ${left} for the NodeConfig Karpenter appends (about ${KARPENTER_NODECONFIG_BYTES} bytes with a cluster CA and the usual labels and taints) ` +
    "under EC2's 16 KiB user-data limit; bake big tasks into the AMI (/etc/postjoin/tasks.d)"
  );
}
