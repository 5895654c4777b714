// A throwaway PKI for the Kubernetes API stand-in, made with the real `openssl`: a CA, a server certificate for
// 127.0.0.1/localhost, and client certificates shaped as the kubelet's (CN=system:node:<name>, O=system:nodes).
// EC P-256 keys keep it fast (a few ms per certificate), so a client certificate can be made on demand, synchronously.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface CertPair {
  certFile: string;
  keyFile: string;
  certPem: string;
  keyPem: string;
}

export interface KubePki {
  dir: string;
  caFile: string;
  caPem: string;
  server: CertPair;
  /** A client certificate signed by the CA; `org` may repeat (several O= entries, as group memberships). */
  clientCert(commonName: string, orgs?: string[]): CertPair;
  /** A client certificate from a different, unknown CA: a real server must not accept it. */
  foreignClientCert(commonName: string, orgs?: string[]): CertPair;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

// A subject as openssl's -subj wants it; "/" and "," inside values are escaped so a node name cannot add fields.
function subject(cn: string, orgs: string[]): string {
  const esc = (v: string) => v.replace(/[\\/,=+]/g, (c) => `\\${c}`);
  return orgs.map((o) => `/O=${esc(o)}`).join('') + `/CN=${esc(cn)}`;
}

function makeCa(dir: string, base: string, cn: string): { crt: string; key: string } {
  const crt = join(dir, `${base}.crt`);
  const key = join(dir, `${base}.key`);
  openssl(
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', crt,
      '-subj', `/CN=${cn}`, '-days', '2', '-addext', 'basicConstraints=critical,CA:TRUE',
      '-addext', 'keyUsage=critical,keyCertSign,cRLSign,digitalSignature'],
    dir,
  );
  return { crt, key };
}

function makeLeaf(dir: string, base: string, ca: { crt: string; key: string }, subj: string, ext: string): CertPair {
  const keyFile = join(dir, `${base}.key`);
  const certFile = join(dir, `${base}.crt`);
  const csr = join(dir, `${base}.csr`);
  const extFile = join(dir, `${base}.ext`);
  writeFileSync(extFile, ext);
  openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyFile, '-out', csr, '-subj', subj], dir);
  openssl(['x509', '-req', '-in', csr, '-CA', ca.crt, '-CAkey', ca.key, '-CAcreateserial', '-days', '2', '-out', certFile, '-extfile', extFile], dir);
  return { certFile, keyFile, certPem: readFileSync(certFile, 'utf8'), keyPem: readFileSync(keyFile, 'utf8') };
}

const CLIENT_EXT = 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n';

/** Makes the CA and the server certificate in `dir` (which the caller owns and removes). */
export function makeKubePki(dir: string): KubePki {
  const ca = makeCa(dir, 'ca', 'postjoin-test-kubernetes-ca');
  makeLeaf(
    dir,
    'apiserver',
    ca,
    '/CN=kube-apiserver',
    'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n' +
      'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default.svc\n',
  );
  return loadKubePki(dir);
}

/**
 * The PKI makeKubePki() made in `dir` earlier, e.g. by another process: a stand-in started later (a server that
 * "comes back") is then trusted by the kubeconfigs written for the first.
 */
export function loadKubePki(dir: string): KubePki {
  const ca = { crt: join(dir, 'ca.crt'), key: join(dir, 'ca.key') };
  const server: CertPair = {
    certFile: join(dir, 'apiserver.crt'),
    keyFile: join(dir, 'apiserver.key'),
    certPem: readFileSync(join(dir, 'apiserver.crt'), 'utf8'),
    keyPem: readFileSync(join(dir, 'apiserver.key'), 'utf8'),
  };
  let foreignCa: { crt: string; key: string } | undefined;
  // Client certificate names are unique per process, whoever made the CA.
  let n = 0;
  const tag = `${process.pid}-${Date.now()}`;
  return {
    dir,
    caFile: ca.crt,
    caPem: readFileSync(ca.crt, 'utf8'),
    server,
    clientCert: (cn, orgs = []) => makeLeaf(dir, `client-${tag}-${++n}`, ca, subject(cn, orgs), CLIENT_EXT),
    foreignClientCert(cn, orgs = []) {
      foreignCa ??= makeCa(dir, 'foreign-ca', 'some-other-ca');
      return makeLeaf(dir, `foreign-${tag}-${++n}`, foreignCa, subject(cn, orgs), CLIENT_EXT);
    },
  };
}
