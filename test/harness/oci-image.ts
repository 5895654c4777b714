// Small, distinct OCI image archives built by hand (tar, gzip, sha256), with no
// network, and pushed to a harness registry with skopeo. Content varies per image on
// purpose: byte-identical images dedupe, and a "second pull" would fetch nothing.
import { createCipheriv, createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { mkdir, open, readFile, rename, stat, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { runOk } from './proc.js'
import type { Credentials } from './registry.js'

export interface ImageSpec {
  /** Repository name, e.g. 'app' or 'team/app'. */
  name: string
  tag?: string
  /** Mixed into the content so images with the same name still differ. */
  index?: number
  /** Extra incompressible bytes in the layer (for slow or interrupted pulls). */
  sizeBytes?: number
  /** More files in the layer: path inside the image -> content. */
  files?: Record<string, string>
  architecture?: string
  /** Value of io.containerd.image.name in index.json. Default postjoin.test/NAME:TAG. */
  imageName?: string
}

export interface BuiltImage {
  name: string
  tag: string
  /** The oci-archive tar: `skopeo copy oci-archive:PATH ...` or `ctr images import PATH`. */
  archive: string
  manifestDigest: string
  configDigest: string
  layerDigest: string
  /** sha256 of the uncompressed layer tar (rootfs.diff_ids[0]). */
  diffId: string
  layerSize: number
}

export interface PushedImage extends BuiltImage {
  /** e.g. 127.0.0.1:PORT/app:1 */
  ref: string
  /** e.g. 127.0.0.1:PORT/app@sha256:... */
  digestRef: string
  /** Digest the registry holds, as reported by skopeo. */
  digest: string
}

const sha256File = (path: string) =>
  new Promise<string>((resolve, reject) => {
    const h = createHash('sha256')
    createReadStream(path).on('data', (d) => h.update(d)).on('error', reject).on('end', () => resolve(`sha256:${h.digest('hex')}`))
  })

/** Deterministic incompressible bytes: AES-CTR keystream keyed by the seed. */
async function writeNoise(path: string, size: number, seed: string): Promise<void> {
  const key = createHash('sha256').update(seed).digest()
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16))
  const fh = await open(path, 'w')
  try {
    const chunk = Buffer.alloc(1 << 20)
    for (let left = size; left > 0; left -= chunk.length) {
      await fh.write(cipher.update(left >= chunk.length ? chunk : chunk.subarray(0, left)))
    }
  } finally {
    await fh.close()
  }
}

// Fixed order, owners, times and modes, so the same spec gives the same bytes.
const tarFlags = ['--sort=name', '--mtime=@0', '--owner=0', '--group=0', '--numeric-owner', '--mode=go-w,a+rX,u+w', '--format=gnu']

async function blob(layout: string, bytes: Buffer): Promise<{ digest: string; size: number }> {
  const hex = createHash('sha256').update(bytes).digest('hex')
  await writeFile(join(layout, 'blobs', 'sha256', hex), bytes)
  return { digest: `sha256:${hex}`, size: bytes.length }
}

/** Build one OCI archive under workDir (a dir per image is created inside it). */
export async function buildImage(workDir: string, spec: ImageSpec): Promise<BuiltImage> {
  const tag = spec.tag ?? 'latest'
  const id = `${spec.name.replace(/[^\w.-]/g, '_')}_${tag}_${spec.index ?? 0}`
  const base = join(workDir, id)
  const content = join(base, 'content')
  const layout = join(base, 'layout')
  await mkdir(content, { recursive: true })
  await mkdir(join(layout, 'blobs', 'sha256'), { recursive: true })

  await writeFile(join(content, 'postjoin-image.txt'), `name=${spec.name}\ntag=${tag}\nindex=${spec.index ?? 0}\n`)
  for (const [p, text] of Object.entries(spec.files ?? {})) {
    const target = join(content, p.replace(/^\/+/, ''))
    await mkdir(dirname(target), { recursive: true })
    await writeFile(target, text)
  }
  if (spec.sizeBytes) await writeNoise(join(content, 'padding.bin'), spec.sizeBytes, id)

  const layerTar = join(base, 'layer.tar')
  await runOk('tar', [...tarFlags, '-cf', layerTar, '-C', content, '.'])
  const diffId = await sha256File(layerTar)
  await runOk('gzip', ['-n', '-f', layerTar]) // -n: no name or mtime in the header
  const layerGz = `${layerTar}.gz`
  const layerDigest = await sha256File(layerGz)
  const layerSize = (await stat(layerGz)).size
  await rename(layerGz, join(layout, 'blobs', 'sha256', layerDigest.slice(7)))

  const config = await blob(layout, Buffer.from(JSON.stringify({
    architecture: spec.architecture ?? 'amd64',
    os: 'linux',
    config: { Cmd: ['/bin/true'], Labels: { 'postjoin.test/image': id } },
    rootfs: { type: 'layers', diff_ids: [diffId] },
  })))
  const manifest = await blob(layout, Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layerDigest, size: layerSize }],
  })))
  await writeFile(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }))
  await writeFile(join(layout, 'index.json'), JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [{
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      ...manifest,
      annotations: {
        'io.containerd.image.name': spec.imageName ?? `postjoin.test/${spec.name}:${tag}`,
        'org.opencontainers.image.ref.name': tag,
      },
    }],
  }))
  const archive = join(base, 'image.tar')
  await runOk('tar', [...tarFlags, '-cf', archive, '-C', layout, 'oci-layout', 'index.json', 'blobs'])
  return { name: spec.name, tag, archive, manifestDigest: manifest.digest, configDigest: config.digest, layerDigest, diffId, layerSize }
}

/**
 * skopeo needs a signature policy; we pass our own instead of depending on the
 * host's /etc/containers/policy.json.
 */
async function policyFile(workDir: string): Promise<string> {
  const p = join(workDir, 'skopeo-policy.json')
  await writeFile(p, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }))
  // Likewise an empty registries.conf: no host mirror or alias may redirect the push.
  await writeFile(join(workDir, 'no-registries.conf'), '')
  return p
}

/**
 * Push a built image to `registryHost` (plain HTTP). Uses creds when given, else no
 * creds at all. netnsPid: run skopeo in that PID's network namespace (for a
 * registry started with startRegistry({ netnsPid })).
 */
export async function pushImage(
  workDir: string,
  image: BuiltImage,
  registryHost: string,
  opts: { creds?: Credentials | undefined; repo?: string; tag?: string; netnsPid?: number | undefined } = {},
): Promise<PushedImage> {
  const repo = opts.repo ?? image.name
  const ref = `${registryHost}/${repo}:${opts.tag ?? image.tag}`
  const digestFile = join(workDir, `${image.manifestDigest.slice(7, 19)}-${Date.now()}.digest`)
  const netns = opts.netnsPid === undefined ? [] : ['-t', String(opts.netnsPid), '-n', '--', 'skopeo']
  await runOk(netns.length ? 'nsenter' : 'skopeo', [
    ...netns, '--policy', await policyFile(workDir), '--tmpdir', workDir, 'copy', '--quiet',
    // Authfile pinned to a path that does not exist, so ~/.docker or $XDG_RUNTIME_DIR creds never leak in.
    '--dest-tls-verify=false', '--dest-authfile', join(workDir, 'no-auth.json'),
    ...(opts.creds ? ['--dest-creds', `${opts.creds.user}:${opts.creds.password}`] : ['--dest-no-creds']),
    '--digestfile', digestFile,
    `oci-archive:${image.archive}`, `docker://${ref}`,
  ], { timeoutMs: 120_000, env: { ...process.env, CONTAINERS_REGISTRIES_CONF: join(workDir, 'no-registries.conf') } })
  const digest = (await readFile(digestFile, 'utf8')).trim()
  return { ...image, ref, digest, digestRef: `${registryHost}/${repo}@${digest}` }
}

/** Build and push several images; throws if two of them came out identical. */
export async function buildAndPush(
  workDir: string,
  registry: { host: string; auth?: Credentials | undefined; netnsPid?: number | undefined },
  specs: ImageSpec[],
): Promise<PushedImage[]> {
  const out: PushedImage[] = []
  for (const spec of specs) {
    const built = await buildImage(workDir, spec)
    if (out.some((o) => o.manifestDigest === built.manifestDigest)) throw new Error(`image ${spec.name} is identical to an earlier one`)
    out.push(await pushImage(workDir, built, registry.host, { creds: registry.auth, netnsPid: registry.netnsPid }))
  }
  return out
}
