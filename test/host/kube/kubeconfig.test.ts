// The kubeconfig as the node has it (nodeadm's template, Outposts' client certificate, token users), read as
// client-go reads it; errors name the file, the key and the line. And the node's name, as the kubelet chose it.
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { clusterNameOf, readClusterName, readKubeconfig } from '../../../src/host/kube/kubeconfig.js';
import { detectNodeName, hostnameOverride, kubeletArgs } from '../../../src/host/kube/node-name.js';

const CA = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

async function kubeconfigFile(text: string, files: Record<string, string> = {}): Promise<{ dir: string; path: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'postjoin-kc-'));
  for (const [name, body] of Object.entries(files)) {
    await mkdir(join(dir, name, '..'), { recursive: true });
    await writeFile(join(dir, name), body);
  }
  const path = join(dir, 'kubeconfig');
  await writeFile(path, text);
  return { dir, path };
}

/** nodeadm/internal/kubelet/kubeconfig.template.yaml, filled in as nodeadm does on AL2023. */
const NODEADM = (caPath: string) => `---
apiVersion: v1
kind: Config
clusters:
  - name: kubernetes
    cluster:
      certificate-authority: ${caPath}
      server: https://ABCDEF0123456789.gr7.us-west-2.eks.amazonaws.com
current-context: kubelet
contexts:
  - name: kubelet
    context:
      cluster: kubernetes
      user: kubelet
users:
  - name: kubelet
    user:
      exec:
        apiVersion: client.authentication.k8s.io/v1beta1
        command: aws
        args:
          - "eks"
          - "get-token"
          - "--cluster-name"
          - "my-cluster"
          - "--region"
          - "us-west-2"
`;

t.test("nodeadm's kubeconfig: CA file, exec plugin aws eks get-token (v1beta1), the cluster name", async (t) => {
  const { dir, path } = await kubeconfigFile('', { 'pki/ca.crt': CA });
  await writeFile(path, NODEADM(join(dir, 'pki/ca.crt')));
  const a = await readKubeconfig(path);
  t.equal(a.server, 'https://abcdef0123456789.gr7.us-west-2.eks.amazonaws.com', 'the URL as node:https will use it');
  t.equal(a.ca?.toString(), CA);
  t.same(a.user.exec, {
    apiVersion: 'client.authentication.k8s.io/v1beta1',
    command: 'aws',
    args: ['eks', 'get-token', '--cluster-name', 'my-cluster', '--region', 'us-west-2'],
    env: [],
    interactiveMode: 'IfAvailable',
    provideClusterInfo: false,
  });
  t.equal(clusterNameOf(a), 'my-cluster');
  t.equal(await readClusterName(path), 'my-cluster');
});

t.test('paths are relative to the kubeconfig directory, as in client-go; data fields are base64', async (t) => {
  const { dir, path } = await kubeconfigFile(
    `apiVersion: v1
kind: Config
current-context: c
contexts: [{ name: c, context: { cluster: k, user: u } }]
clusters: [{ name: k, cluster: { server: "https://127.0.0.1:6443/", certificate-authority: pki/ca.crt, tls-server-name: kubernetes } }]
users: [{ name: u, user: { client-certificate: pki/node.crt, client-key-data: ${Buffer.from('KEY').toString('base64')}, tokenFile: token } }]
`,
    { 'pki/ca.crt': CA, 'pki/node.crt': 'CERT' },
  );
  const a = await readKubeconfig(path);
  t.equal(a.server, 'https://127.0.0.1:6443');
  t.equal(a.tlsServerName, 'kubernetes');
  t.equal(a.ca?.toString(), CA);
  t.equal(a.user.cert?.toString(), 'CERT');
  t.equal(a.user.key?.toString(), 'KEY');
  t.equal(a.user.tokenFile, join(dir, 'token'));
  t.equal(await readClusterName(path), undefined, 'no exec plugin: no cluster name');
});

t.test('an exec command with a "/" is relative to the kubeconfig; a bare one is looked up in PATH; v1 needs interactiveMode', async (t) => {
  const exec = (e: string) => `apiVersion: v1
current-context: c
contexts: [{ name: c, context: { cluster: k, user: u } }]
clusters: [{ name: k, cluster: { server: "https://h", certificate-authority-data: ${Buffer.from(CA).toString('base64')} } }]
users: [{ name: u, user: { exec: ${e} } }]
`;
  const { dir, path } = await kubeconfigFile(exec('{ apiVersion: client.authentication.k8s.io/v1, command: ./bin/plugin, interactiveMode: Never, env: [{ name: A, value: b }], args: ["--cluster-id=c-1"] }'));
  const a = await readKubeconfig(path);
  t.equal(a.user.exec?.command, join(dir, 'bin/plugin'));
  t.same(a.user.exec?.env, [{ name: 'A', value: 'b' }]);
  t.equal(clusterNameOf(a), 'c-1', "aws-iam-authenticator's --cluster-id names the cluster too");
  const missing = await kubeconfigFile(exec('{ apiVersion: client.authentication.k8s.io/v1, command: p }'));
  await t.rejects(readKubeconfig(missing.path), { message: `kubeconfig ${missing.path}: users[0].user.exec.interactiveMode, line 5: is required in client.authentication.k8s.io/v1 (Never or IfAvailable)` });
  const always = await kubeconfigFile(exec('{ apiVersion: client.authentication.k8s.io/v1, command: p, interactiveMode: Always }'));
  await t.rejects(readKubeconfig(always.path), /interactiveMode.*Always.*no terminal/);
  const alpha = await kubeconfigFile(exec('{ apiVersion: client.authentication.k8s.io/v1alpha1, command: p }'));
  await t.rejects(readKubeconfig(alpha.path), /exec\.apiVersion.*v1alpha1" is not supported; expected client\.authentication\.k8s\.io\/v1beta1 or client\.authentication\.k8s\.io\/v1/);
});

t.test('errors name the kubeconfig, the key and the line', async (t) => {
  const base = (cluster: string, user = '{ token: abc }') => `apiVersion: v1
current-context: c
contexts: [{ name: c, context: { cluster: k, user: u } }]
clusters:
  - name: k
    cluster: ${cluster}
users: [{ name: u, user: ${user} }]
`;
  const cases: [string, string | undefined, RegExp][] = [
    ['{ server: "http://10.0.0.1" }', undefined, /clusters\[0\]\.cluster\.server, line 6: "http:\/\/10\.0\.0\.1" is not https/],
    ['{ server: "https://h", insecure-skip-tls-verify: true }', undefined, /insecure-skip-tls-verify, line 6: is refused/],
    ['{ server: "https://h", certificate-authority: /nonexistent/ca.crt }', undefined, /certificate-authority, line 6: cannot read \/nonexistent\/ca\.crt/],
    ['{ server: "https://h", certificate-authority-data: "%%%" }', undefined, /certificate-authority-data, line 6: is not base64/],
    ['{ certificate-authority: x }', undefined, /clusters\[0\]\.cluster\.server, line 6: is not set/],
    ['{ server: "https://h" }', '{ client-certificate-data: Q0VSVA== }', /users\[0\]\.user, line 7: has a client certificate but no client-key/],
    ['{ server: "https://h" }', '{ username: admin, password: x }', /users\[0\]\.user\.username.*not supported/],
    ['{ server: "https://h" }', '{}', /users\[0\]\.user.*has no credential/],
    ['{ server: "https://h" }', '{ token: x, exec: { apiVersion: client.authentication.k8s.io/v1beta1, command: aws } }', /both a token and an exec plugin/],
    ['{ server: "https://h", proxy-url: "socks5://proxy:1080" }', undefined, /proxy-url, line 6: is a socks5 proxy, which postjoin does not support; give an http:\/\/ or https:\/\/ proxy/],
    ['{ server: "https://h", proxy-url: "proxy:3128" }', undefined, /proxy-url, line 6: has the scheme "proxy"; expected http:\/\/ or https:\/\//],
    ['{ server: "https://h", proxy-url: "http://" }', undefined, /proxy-url, line 6: "http:\/\/" is not a URL/],
  ];
  for (const [cluster, user, want] of cases) {
    const { path } = await kubeconfigFile(base(cluster, user));
    const err = await readKubeconfig(path).then(
      () => undefined,
      (e: Error) => e,
    );
    t.match(err?.message, want, cluster + (user ?? ''));
    t.match(err?.message, `kubeconfig ${path}: `);
  }
  const proxied = await kubeconfigFile(base('{ server: "https://h", proxy-url: "http://user:pw@proxy.corp:3128" }'));
  t.equal((await readKubeconfig(proxied.path)).proxyUrl, 'http://user:pw@proxy.corp:3128', 'an http:// or https:// proxy-url is taken');
  const noContext = await kubeconfigFile('apiVersion: v1\nclusters: []\n');
  await t.rejects(readKubeconfig(noContext.path), /current-context: is not set/);
  const wrong = await kubeconfigFile('apiVersion: v1\ncurrent-context: other\ncontexts: [{ name: c, context: {} }]\n');
  await t.rejects(readKubeconfig(wrong.path), /contexts, line 3: has no entry named "other"/);
  await t.rejects(readKubeconfig('/nonexistent/kubeconfig'), /^kubeconfig \/nonexistent\/kubeconfig: cannot read: ENOENT/);
  const broken = await kubeconfigFile('a: [\n');
  await t.rejects(readKubeconfig(broken.path), /kubeconfig .*malformed YAML/);
  t.equal(await readClusterName(broken.path), undefined, 'an unreadable kubeconfig has no cluster name, and no error');
});

// The environment file as nodeadm writes it (environment.go: `KEY=--a=b --c=d`, then the user's flags).
const ENV = (args: string) => `NODEADM_KUBELET_ARGS=${args}\nOTHER=1`;

t.test("the node's name: kubernetes.nodeName, else the kubelet's --hostname-override, else the host name, lowercased", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'postjoin-env-'));
  const envFile = join(dir, 'environment');
  await writeFile(envFile, ENV('--node-ip=10.0.0.1 --hostname-override=ip-10-0-0-1.us-west-2.compute.internal --cloud-provider=external --v=2'));
  t.same(await detectNodeName({ configured: 'set-by-me', envFile }), { name: 'set-by-me', from: 'config' });
  t.same(await detectNodeName({ configured: null, envFile }), { name: 'ip-10-0-0-1.us-west-2.compute.internal', from: 'kubelet-env' });
  await writeFile(envFile, ENV('--hostname-override=i-1234567890abcdef0 --v=5 --node-labels=foo=bar,foo2=baz'));
  t.equal(await hostnameOverride(envFile), 'i-1234567890abcdef0', 'the InstanceIdNodeName gate');
  await writeFile(envFile, ENV('--hostname-override=ip-1 --v=2 --hostname-override IP-2.Example'));
  t.equal(await hostnameOverride(envFile), 'ip-2.example', "the user's flag comes last and wins, as in the kubelet; lowercased");
  await writeFile(envFile, `# comment\nNODEADM_KUBELET_ARGS="--hostname-override=quoted.example --v=2"\n`);
  t.equal(await hostnameOverride(envFile), 'quoted.example', 'a quoted value, as systemd allows');
  await writeFile(envFile, ENV('--v=2'));
  t.same(await detectNodeName({ configured: null, envFile, hostname: () => ' MyHost.Local ' }), { name: 'myhost.local', from: 'hostname' });
  t.same(await detectNodeName({ configured: null, envFile: join(dir, 'absent'), hostname: () => 'h' }), { name: 'h', from: 'hostname' });
  t.same(kubeletArgs('NODEADM_KUBELET_ARGS=\n'), []);
});
