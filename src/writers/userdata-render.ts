import { createHash } from 'node:crypto';

export interface RenderPart {
  contentType: string;
  body: Buffer;
}

/**
 * A MIME multipart user data holding the given parts, bodies byte for byte as given (no transfer encoding:
 * nodeadm reads the NodeConfig part as written). LF line ends, as EC2's and nodeadm's own examples use; the
 * line break before each boundary line belongs to the boundary (RFC 2046), so every body keeps its last byte.
 * The boundary is derived from the content, so the same inputs always render the same bytes (no drift in a
 * launch template), and it is checked not to occur in any body.
 */
export function renderMultipart(parts: readonly RenderPart[]): Buffer {
  const boundary = chooseBoundary(parts);
  const chunks: Buffer[] = [Buffer.from(`MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="${boundary}"\n\n`)];
  for (const p of parts) {
    chunks.push(Buffer.from(`--${boundary}\nContent-Type: ${p.contentType}\n\n`), p.body, Buffer.from('\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\n`));
  return Buffer.concat(chunks);
}

function chooseBoundary(parts: readonly RenderPart[]): string {
  const hash = createHash('sha256');
  for (const p of parts) hash.update(p.contentType).update('\0').update(p.body).update('\0');
  const base = `postjoin-${hash.digest('hex').slice(0, 24)}`;
  for (let n = 0; ; n++) {
    const candidate = n === 0 ? base : `${base}-${n}`;
    if (!parts.some((p) => p.body.includes(`--${candidate}`))) return candidate;
  }
}
