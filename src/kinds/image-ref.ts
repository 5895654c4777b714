/**
 * Image references as docker and containerd's CRI read them (github.com/distribution/reference): the grammar,
 * and the normalization that turns `nginx` into `docker.io/library/nginx:latest`. The policy's registry globs
 * and the pull task both need the registry host exactly as containerd will see it.
 */

const domainComponent = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const domain = `(?:${domainComponent}(?:\\.${domainComponent})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]+)?`;
const pathComponent = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const tag = '[\\w][\\w.-]{0,127}';
const digest = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}';
const REFERENCE = new RegExp(`^((?:${domain}/)?${pathComponent}(?:/${pathComponent})*)(?::(${tag}))?(?:@(${digest}))?$`);
const NAME_MAX = 255;

export const DOCKER_HUB = 'docker.io';

export interface ImageRef {
  /** Registry host as containerd contacts it (with port, if any): `docker.io`, `127.0.0.1:5000`. */
  registry: string;
  /** Repository path inside the registry: `library/nginx`. */
  repository: string;
  tag?: string;
  digest?: string;
  /** The fully qualified form CRI stores: `docker.io/library/nginx:latest`. */
  normalized: string;
}

export type ParsedImageRef = { ok: true; ref: ImageRef } | { ok: false; reason: string };

export function parseImageRef(input: string): ParsedImageRef {
  if (/^[a-f0-9]{64}$/.test(input)) return { ok: false, reason: 'a bare 64-hex string is an image ID, not a reference' };
  const m = REFERENCE.exec(input);
  if (!m) {
    const lower = input.toLowerCase();
    if (lower !== input && REFERENCE.test(lower)) return { ok: false, reason: 'repository names must be lowercase' };
    return { ok: false, reason: 'expected [registry[:port]/]repository[:tag][@digest]' };
  }
  const name = m[1] as string;
  if (name.length > NAME_MAX) return { ok: false, reason: `the name is longer than ${NAME_MAX} characters` };
  const { registry, repository } = splitRegistry(name);
  if (repository.toLowerCase() !== repository) return { ok: false, reason: 'repository names must be lowercase' };
  const ref: ImageRef = { registry, repository, normalized: '' };
  if (m[2]) ref.tag = m[2];
  if (m[3]) ref.digest = m[3];
  // Like docker, a reference without tag or digest means :latest.
  const suffix = `${ref.tag || !ref.digest ? `:${ref.tag ?? 'latest'}` : ''}${ref.digest ? `@${ref.digest}` : ''}`;
  ref.normalized = `${registry}/${repository}${suffix}`;
  return { ok: true, ref };
}

/** docker's rule: the first component is a registry only if it has a "." or ":", or is "localhost". */
function splitRegistry(name: string): { registry: string; repository: string } {
  const slash = name.indexOf('/');
  const first = slash === -1 ? '' : name.slice(0, slash);
  if (slash === -1 || (!/[.:]/.test(first) && first !== 'localhost' && first.toLowerCase() === first)) {
    return { registry: DOCKER_HUB, repository: slash === -1 ? `library/${name}` : name };
  }
  const rest = name.slice(slash + 1);
  if (first === DOCKER_HUB || first === 'index.docker.io') {
    return { registry: DOCKER_HUB, repository: rest.includes('/') ? rest : `library/${rest}` };
  }
  return { registry: first, repository: rest };
}
