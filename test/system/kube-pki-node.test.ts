// The demo's pure-Node PKI (no openssl at demo time) checked by the real openssl, and in use: the Kubernetes API
// stand-in serving its certificate to the real kubectl and to postjoin's own client (through a whole report).
import { execFile, execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { createHost } from '../../src/host/host.js';
import { startClusterReport } from '../../src/report/cluster-report.js';
import { startKubeApiServer } from '../emulators/kube-apiserver.js';
import { makeNodePki } from '../emulators/kube-pki-node.js';
import { memoryLogger } from '../helpers/memory-log.js';

/** The machine as `run` hands it to the report: the Kubernetes API through the kubeconfig. */
const host = createHost();

t.test('openssl verifies the server certificate against the CA, for 127.0.0.1 and localhost, as a TLS server', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'postjoin-pki-'));
  const pki = makeNodePki(dir);
  const verify = (...extra: string[]) =>
    execFileSync('openssl', ['verify', '-CAfile', pki.caFile, '-purpose', 'sslserver', ...extra, pki.server.certFile], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  t.match(verify(), /: OK$/m);
  t.match(verify('-verify_ip', '127.0.0.1'), /: OK$/m);
  t.match(verify('-verify_hostname', 'localhost'), /: OK$/m);
  t.throws(() => verify('-verify_ip', '10.0.0.1'), 'another address is refused');
  const text = execFileSync('openssl', ['x509', '-in', pki.caFile, '-noout', '-text'], { encoding: 'utf8' });
  t.match(text, /CA:TRUE/);
  t.match(text, /Certificate Sign, CRL Sign/);
  t.throws(() => pki.clientCert('x'), /no client certificates/);
});

t.test('the stand-in on the pure-Node PKI: the real kubectl and postjoin\'s client both trust it', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'postjoin-pki-'));
  const api = await startKubeApiServer({ dir, pki: makeNodePki });
  t.teardown(() => api.stop());
  const node = 'ip-10-0-3-1.us-west-2.compute.internal';
  api.addNode(node);
  const admin = await api.writeKubeconfig({ user: 'admin' });
  // Asynchronously: the stand-in runs in this process.
  const out = await new Promise<string>((resolve, reject) =>
    execFile('kubectl', ['--kubeconfig', admin, '--request-timeout', '20s', 'get', 'node', node, '-o', 'name'], { encoding: 'utf8', env: { ...process.env, HOME: dir, KUBECONFIG: admin } }, (err, stdout, stderr) =>
      err ? reject(new Error(`${err.message}: ${stderr}`)) : resolve(stdout),
    ),
  );
  t.equal(out.trim(), `node/${node}`);
  const kubeconfig = await api.writeKubeconfig({ user: 'token', nodeName: node });
  const report = await startClusterReport(
    { enabled: true, kubeconfig, nodeName: node, condition: 'postjoin.io/Ready', label: null, events: false, timeoutMs: 10_000 },
    { log: memoryLogger().log, stop: new AbortController().signal, nodeName: node, host },
  );
  t.match(await report.final({ reason: 'Succeeded', counts: {} }), { made: true });
});

// Issue 20: one set in about 150 had a serial that was not minimal DER (a 0x00 byte before one below 0x80), and
// openssl, Node and so `npm start` refused it. 3,000 sets make such a serial all but certain to come up again.
t.test('3,000 sets: each parses in openssl and in Node, and verifies against its own CA', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'postjoin-pki-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const sets: { ca: string; server: string }[] = [];
  for (let i = 0; i < 3000; i++) {
    const pki = makeNodePki(dir);
    sets.push({ ca: pki.caPem, server: pki.server.certPem });
  }
  const refused: string[] = [];
  sets.forEach((s, i) => {
    try {
      const ca = new X509Certificate(s.ca);
      const server = new X509Certificate(s.server);
      if (!server.checkIssued(ca) || !server.verify(ca.publicKey)) refused.push(`set ${i}: the server certificate is not its CA's`);
    } catch (e) {
      refused.push(`set ${i}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    }
  });
  t.same(refused, [], "Node's X509Certificate reads every certificate");

  // One openssl per check, not per certificate: pkcs7 -print_certs parses the lot (and fails on any bad one).
  const all = join(dir, 'all.pem');
  await writeFile(all, sets.flatMap((s) => [s.ca, s.server]).join(''));
  const p7 = join(dir, 'all.p7');
  const openssl = (...args: string[]) => execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
  let printed = '';
  try {
    openssl('crl2pkcs7', '-nocrl', '-certfile', all, '-out', p7);
    printed = openssl('pkcs7', '-in', p7, '-print_certs', '-noout');
  } catch (e) {
    t.fail(`openssl refused a certificate: ${(e as { stderr?: string }).stderr ?? String(e)}`);
  }
  t.equal(printed.match(/^subject=/gm)?.length ?? 0, 6000, 'openssl parsed all 6,000 certificates');
});
