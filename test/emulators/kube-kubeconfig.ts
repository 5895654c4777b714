// Kubeconfig files for the stand-in, in the shapes a node has them: a token, a client certificate (files or
// inline data), or an exec credential plugin (AL2023's is `aws eks get-token`, client.authentication.k8s.io/v1beta1).
import YAML from 'yaml';
import type { CertPair } from '../helpers/kube-pki.js';

export interface KubeconfigOptions {
  user: 'token' | 'cert' | 'exec' | 'admin';
  nodeName?: string;
  /** Inline the CA (and for `cert` the client certificate and key) as *-data instead of file paths. */
  caData?: boolean;
  exec?: { command: string; args?: string[]; apiVersion?: string; env?: { name: string; value: string }[] };
  dir?: string;
  /** Use this token (e.g. a wrong one) instead of the node's. */
  token?: string;
  /** Use this client certificate (e.g. a foreign one) instead of the node's. */
  cert?: CertPair;
}

interface Identities {
  admin: string;
  tokenFor(node: string): string;
  certFor(node: string): CertPair;
}

/** The `user:` entry of a kubeconfig for these options. */
export function kubeconfigUser(o: KubeconfigOptions, ids: Identities): Record<string, unknown> {
  const node = () => {
    if (!o.nodeName && !(o.user === 'token' && o.token) && !(o.user === 'cert' && o.cert)) throw new Error(`writeKubeconfig: user '${o.user}' needs nodeName`);
    return o.nodeName ?? '';
  };
  if (o.user === 'admin') return { token: ids.admin };
  if (o.user === 'token') return { token: o.token ?? ids.tokenFor(node()) };
  if (o.user === 'cert') {
    const c = o.cert ?? ids.certFor(node());
    return o.caData
      ? { 'client-certificate-data': Buffer.from(c.certPem).toString('base64'), 'client-key-data': Buffer.from(c.keyPem).toString('base64') }
      : { 'client-certificate': c.certFile, 'client-key': c.keyFile };
  }
  if (!o.exec) throw new Error("writeKubeconfig: user 'exec' needs exec");
  const apiVersion = o.exec.apiVersion ?? 'client.authentication.k8s.io/v1beta1';
  // client.authentication.k8s.io/v1 requires interactiveMode; v1beta1 does not.
  const interactive = apiVersion.endsWith('/v1') ? { interactiveMode: 'Never' } : {};
  return { exec: { apiVersion, command: o.exec.command, args: o.exec.args ?? [], env: o.exec.env ?? null, ...interactive } };
}

export function kubeconfigText(server: string, ca: { caFile: string; caPem: string }, caData: boolean, user: Record<string, unknown>): string {
  const cluster: Record<string, string> = { server };
  if (caData) cluster['certificate-authority-data'] = Buffer.from(ca.caPem).toString('base64');
  else cluster['certificate-authority'] = ca.caFile;
  return YAML.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'standin', cluster }],
    contexts: [{ name: 'standin', context: { cluster: 'standin', user: 'standin-user' } }],
    'current-context': 'standin',
    users: [{ name: 'standin-user', user }],
  });
}
