// A throwaway PKI for the Kubernetes API stand-in, in pure Node so that `npm start` needs nothing but Node: a CA, a
// server certificate for 127.0.0.1, localhost and the in-cluster names, and client certificates shaped as the
// kubelet's (CN=system:node:<name>, O=system:nodes), each from a fresh EC P-256 key, valid from an hour ago for two days.
// The DER comes from @peculiar/asn1-x509 (the RFC 5280 schema under @peculiar/x509), not from us: the hand-written
// encoder this replaces made, one certificate in 256, a serial that was not minimal DER, which openssl and Node refuse
// (issue 20). Signing is node:crypto's synchronous sign, not WebCrypto, so a client certificate is made inside a
// synchronous call. test/system/kube-pki.test.ts checks 3,000 certificates with the real openssl and with Node.
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import {
  AlgorithmIdentifier, AttributeTypeAndValue, AttributeValue, AuthorityKeyIdentifier, BasicConstraints, Certificate,
  ExtendedKeyUsage, Extension, Extensions, GeneralName, id_ce_authorityKeyIdentifier, id_ce_basicConstraints,
  id_ce_extKeyUsage, id_ce_keyUsage, id_ce_subjectAltName, id_ce_subjectKeyIdentifier, id_kp_clientAuth,
  id_kp_serverAuth, KeyIdentifier, KeyUsage, KeyUsageFlags, Name, RelativeDistinguishedName, SubjectAlternativeName,
  SubjectKeyIdentifier, SubjectPublicKeyInfo, TBSCertificate, Validity, Version,
} from '@peculiar/asn1-x509';
import { Integer } from 'asn1js';
import { createHash, createPrivateKey, generateKeyPairSync, randomBytes, sign, X509Certificate, type KeyObject } from 'node:crypto';
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
  /** A client certificate signed by the CA; `orgs` may repeat (several O= entries, as group memberships). */
  clientCert(commonName: string, orgs?: string[]): CertPair;
  /** A client certificate from a different, unknown CA: a real server must not accept it. */
  foreignClientCert(commonName: string, orgs?: string[]): CertPair;
}

const ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2'; // RFC 5758 3.2
const COMMON_NAME = '2.5.4.3';
const ORGANIZATION = '2.5.4.10';
const HOUR = 3_600_000;

interface Issuer {
  name: Name;
  keyId: Buffer;
  key: KeyObject;
}

/** Organizations first, then the CN, as openssl's `-subj /O=…/CN=…` orders them; values are UTF8String, never parsed. */
function distinguishedName(commonName: string, orgs: string[] = []): Name {
  const rdn = (type: string, text: string) => new RelativeDistinguishedName([new AttributeTypeAndValue({ type, value: new AttributeValue({ utf8String: text }) })]);
  return new Name([...orgs.map((o) => rdn(ORGANIZATION, o)), rdn(COMMON_NAME, commonName)]);
}

const extension = (extnID: string, critical: boolean, value: object) => new Extension({ extnID, critical, extnValue: new OctetString(AsnConvert.serialize(value)) });

// asn1-schema writes a serial given as bytes as it is, leading zeros and all (the very defect of issue 20), so the
// serial is a number and asn1js's fromBigInt makes its minimal two's-complement octets. Positive, at most 16 octets.
function serialNumber(): ArrayBuffer {
  const n = (BigInt(`0x${randomBytes(16).toString('hex')}`) >> 1n) | 1n;
  return Integer.fromBigInt(n).valueBlock.valueHexView.slice().buffer;
}

const arrayBuffer = (b: Buffer): ArrayBuffer => new Uint8Array(b).buffer;

function certificate(subject: Name, spki: Buffer, issuer: Issuer, extensions: Extension[]): string {
  const now = Date.now();
  const algorithm = () => new AlgorithmIdentifier({ algorithm: ECDSA_WITH_SHA256 });
  const tbsCertificate = new TBSCertificate({
    version: Version.v3,
    serialNumber: serialNumber(),
    signature: algorithm(),
    issuer: issuer.name,
    validity: new Validity({ notBefore: new Date(now - HOUR), notAfter: new Date(now + 48 * HOUR) }),
    subject,
    subjectPublicKeyInfo: AsnConvert.parse(spki, SubjectPublicKeyInfo),
    extensions: new Extensions([
      ...extensions,
      extension(id_ce_subjectKeyIdentifier, false, new SubjectKeyIdentifier(arrayBuffer(keyId(spki)))),
      extension(id_ce_authorityKeyIdentifier, false, new AuthorityKeyIdentifier({ keyIdentifier: new KeyIdentifier(arrayBuffer(issuer.keyId)) })),
    ]),
  });
  const signatureValue = sign('sha256', Buffer.from(AsnConvert.serialize(tbsCertificate)), issuer.key); // an ECDSA-Sig-Value, DER
  const der = AsnConvert.serialize(new Certificate({ tbsCertificate, signatureAlgorithm: algorithm(), signatureValue: arrayBuffer(signatureValue) }));
  return `-----BEGIN CERTIFICATE-----\n${Buffer.from(der).toString('base64').replace(/.{1,64}/g, '$&\n')}-----END CERTIFICATE-----\n`;
}

/** RFC 5280 4.2.1.2 leaves the method open; a SHA-1 of the whole SubjectPublicKeyInfo is unique per key. */
const keyId = (spki: Buffer) => createHash('sha1').update(spki).digest();
const newKey = () => {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { spki: publicKey.export({ type: 'spki', format: 'der' }), privateKey };
};

const CA_EXTENSIONS = [
  extension(id_ce_basicConstraints, true, new BasicConstraints({ cA: true })),
  extension(id_ce_keyUsage, true, new KeyUsage(KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign | KeyUsageFlags.digitalSignature)),
];
const SERVER_NAMES = [new GeneralName({ iPAddress: '127.0.0.1' }), ...['localhost', 'kubernetes', 'kubernetes.default.svc'].map((dNSName) => new GeneralName({ dNSName }))];

const LEAF = [
  extension(id_ce_basicConstraints, true, new BasicConstraints({ cA: false })),
  // An EC key signs (ECDHE); it cannot encipher, so digitalSignature is its only key usage.
  extension(id_ce_keyUsage, true, new KeyUsage(KeyUsageFlags.digitalSignature)),
];
const LEAF_EXTENSIONS = {
  server: [...LEAF, extension(id_ce_extKeyUsage, false, new ExtendedKeyUsage([id_kp_serverAuth])), extension(id_ce_subjectAltName, false, new SubjectAlternativeName(SERVER_NAMES))],
  client: [...LEAF, extension(id_ce_extKeyUsage, false, new ExtendedKeyUsage([id_kp_clientAuth]))],
};

function makeCa(dir: string, base: string, commonName: string): Issuer & { file: string; pem: string } {
  const { spki, privateKey } = newKey();
  const ca = { name: distinguishedName(commonName), keyId: keyId(spki), key: privateKey };
  const pem = certificate(ca.name, spki, ca, CA_EXTENSIONS);
  const file = join(dir, `${base}.crt`);
  writeFileSync(file, pem);
  return { ...ca, file, pem };
}

function makeLeaf(dir: string, base: string, ca: Issuer, subject: Name, use: 'server' | 'client'): CertPair {
  const { spki, privateKey } = newKey();
  const certPem = certificate(subject, spki, ca, LEAF_EXTENSIONS[use]);
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  const pair = { certFile: join(dir, `${base}.crt`), keyFile: join(dir, `${base}.key`), certPem, keyPem };
  writeFileSync(pair.certFile, certPem);
  writeFileSync(pair.keyFile, keyPem, { mode: 0o600 });
  return pair;
}

/**
 * Makes the CA and the server certificate in `dir` (which the caller owns and removes); client certificates on demand.
 * The CA's key is kept there too (0600), so that a stand-in started later by another process can load this PKI.
 */
export function makeKubePki(dir: string): KubePki {
  const ca = makeCa(dir, 'ca', 'postjoin-standin-kubernetes-ca');
  writeFileSync(join(dir, 'ca.key'), ca.key.export({ type: 'pkcs8', format: 'pem' }) as string, { mode: 0o600 });
  makeLeaf(dir, 'apiserver', ca, distinguishedName('kube-apiserver'), 'server');
  return loadKubePki(dir);
}

/**
 * The PKI makeKubePki() made in `dir` earlier, e.g. by another process: a stand-in started later (a server that
 * "comes back") is then trusted by the kubeconfigs written for the first.
 */
export function loadKubePki(dir: string): KubePki {
  const caFile = join(dir, 'ca.crt');
  const caPem = readFileSync(caFile, 'utf8');
  const caCert = new X509Certificate(caPem);
  const ca: Issuer = {
    name: AsnConvert.parse(caCert.raw, Certificate).tbsCertificate.subject,
    keyId: keyId(caCert.publicKey.export({ type: 'spki', format: 'der' })),
    key: createPrivateKey(readFileSync(join(dir, 'ca.key'), 'utf8')),
  };
  const read = (base: string): CertPair => {
    const certFile = join(dir, `${base}.crt`);
    const keyFile = join(dir, `${base}.key`);
    return { certFile, keyFile, certPem: readFileSync(certFile, 'utf8'), keyPem: readFileSync(keyFile, 'utf8') };
  };
  let foreignCa: Issuer | undefined;
  let n = 0;
  // Client certificate file names are unique per process, whoever made the CA.
  const tag = `${process.pid}-${Date.now()}`;
  return {
    dir,
    caFile,
    caPem,
    server: read('apiserver'),
    clientCert: (cn, orgs = []) => makeLeaf(dir, `client-${tag}-${++n}`, ca, distinguishedName(cn, orgs), 'client'),
    foreignClientCert(cn, orgs = []) {
      foreignCa ??= makeCa(dir, `foreign-ca-${tag}`, 'some-other-ca');
      return makeLeaf(dir, `foreign-${tag}-${++n}`, foreignCa, distinguishedName(cn, orgs), 'client');
    },
  };
}
