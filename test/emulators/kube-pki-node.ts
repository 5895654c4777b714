// A throwaway PKI for the Kubernetes API stand-in made in pure Node (no openssl), for `npm start`: a CA and a server
// certificate for 127.0.0.1/localhost, EC P-256, valid for a day, made fresh on every start and never written
// anywhere but the demo's temp dir. Node's crypto signs but has no certificate builder, so the X.509 DER is
// encoded here (RFC 5280, only what a TLS server certificate needs). test/system/kube-pki-node.test.ts checks the result
// with the real openssl and a TLS handshake. Client certificates are not made: the demo's node uses a token.
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KubePki } from '../helpers/kube-pki.js';

function tlv(tag: number, content: Buffer): Buffer {
  const n = content.length;
  const len = n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), len, content]);
}
const seq = (...items: Buffer[]) => tlv(0x30, Buffer.concat(items));
const set = (...items: Buffer[]) => tlv(0x31, Buffer.concat(items));
const bool = (v: boolean) => tlv(0x01, Buffer.from([v ? 0xff : 0]));
const octets = (b: Buffer) => tlv(0x04, b);
const bits = (b: Buffer, unused = 0) => tlv(0x03, Buffer.concat([Buffer.from([unused]), b]));
const explicit = (n: number, inner: Buffer) => tlv(0xa0 + n, inner);

/** A positive INTEGER from big-endian bytes (a leading 0 when the high bit is set). */
function integer(b: Buffer): Buffer {
  return tlv(0x02, b[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b);
}

function oid(dotted: string): Buffer {
  const [a, b, ...rest] = dotted.split('.').map(Number);
  const out = [a! * 40 + b!];
  for (const v of rest) {
    const chunk = [v & 0x7f];
    for (let x = v >> 7; x > 0; x >>= 7) chunk.unshift((x & 0x7f) | 0x80);
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}

/** UTCTime (dates before 2050, as RFC 5280 requires for them). */
function time(d: Date): Buffer {
  return tlv(0x17, Buffer.from(`${d.toISOString().slice(2, 19).replace(/[-T:]/g, '')}Z`));
}

const name = (cn: string) => seq(set(seq(oid('2.5.4.3'), tlv(0x0c, Buffer.from(cn)))));
const ECDSA_SHA256 = seq(oid('1.2.840.10045.4.3.2'));
const ext = (id: string, critical: boolean, value: Buffer) => seq(oid(id), ...(critical ? [bool(true)] : []), octets(value));
const keyId = (k: KeyObject) => createHash('sha1').update(k.export({ type: 'spki', format: 'der' })).digest();

interface CertSpec {
  subject: string;
  publicKey: KeyObject;
  issuer: string;
  issuerKey: KeyObject;
  issuerPublicKey: KeyObject;
  ca: boolean;
}

function certificate(s: CertSpec): string {
  const now = Date.now();
  const extensions = [
    ext('2.5.29.19', true, s.ca ? seq(bool(true)) : seq()), // basicConstraints
    // keyUsage: CA keyCertSign + cRLSign + digitalSignature; server digitalSignature (ECDHE key agreement).
    ext('2.5.29.15', true, s.ca ? bits(Buffer.from([0x86]), 1) : bits(Buffer.from([0x80]), 7)),
    ext('2.5.29.14', false, octets(keyId(s.publicKey))), // subjectKeyIdentifier
    ext('2.5.29.35', false, seq(tlv(0x80, keyId(s.issuerPublicKey)))), // authorityKeyIdentifier
    ...(s.ca
      ? []
      : [
          ext('2.5.29.37', false, seq(oid('1.3.6.1.5.5.7.3.1'))), // extKeyUsage: serverAuth
          ext('2.5.29.17', false, seq(tlv(0x87, Buffer.from([127, 0, 0, 1])), tlv(0x82, Buffer.from('localhost')))), // subjectAltName
        ]),
  ];
  const serial = randomBytes(16);
  serial[0]! &= 0x7f;
  const tbs = seq(
    explicit(0, integer(Buffer.from([2]))), // v3
    integer(serial),
    ECDSA_SHA256,
    name(s.issuer),
    seq(time(new Date(now - 3_600_000)), time(new Date(now + 86_400_000))),
    name(s.subject),
    s.publicKey.export({ type: 'spki', format: 'der' }),
    explicit(3, seq(...extensions)),
  );
  const der = seq(tbs, ECDSA_SHA256, bits(sign('sha256', tbs, s.issuerKey)));
  return `-----BEGIN CERTIFICATE-----\n${der.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n?$/, '\n')}-----END CERTIFICATE-----\n`;
}

/** The CA and server certificate in `dir` (written there: the stand-in and kubeconfigs name the files). */
export function makeNodePki(dir: string): KubePki {
  const ca = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const srv = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const caName = 'postjoin-demo-kubernetes-ca';
  const caPem = certificate({ subject: caName, publicKey: ca.publicKey, issuer: caName, issuerKey: ca.privateKey, issuerPublicKey: ca.publicKey, ca: true });
  const certPem = certificate({ subject: 'kube-apiserver', publicKey: srv.publicKey, issuer: caName, issuerKey: ca.privateKey, issuerPublicKey: ca.publicKey, ca: false });
  const keyPem = srv.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  const caFile = join(dir, 'ca.crt');
  const server = { certFile: join(dir, 'apiserver.crt'), keyFile: join(dir, 'apiserver.key'), certPem, keyPem };
  writeFileSync(caFile, caPem);
  writeFileSync(server.certFile, certPem);
  writeFileSync(server.keyFile, keyPem, { mode: 0o600 });
  const none = (): never => {
    throw new Error('the pure-Node PKI makes no client certificates; use a token or an exec plugin');
  };
  return { dir, caFile, caPem, server, clientCert: none, foreignClientCert: none };
}
