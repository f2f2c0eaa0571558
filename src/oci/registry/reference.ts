/**
 * Registry image references as skopeo spells them after `docker://` (containers-transports(5)):
 * HOST[:PORT]/REPO[:TAG] or HOST[:PORT]/REPO@sha256:HEX. ferry asks for the host on purpose
 * (no search registries: the image an HQ export reads must be the one named). Pure.
 */
import { FerryError } from '../../errors.js';
import { isSha256Digest } from '../types.js';

/** A parsed registry reference. `reference` is the tag or the digest sent in /v2/REPO/manifests/REFERENCE. */
export interface RegistryRef {
  /** host[:port] as written (the key of auth.json and of a cert-dir). */
  host: string;
  /** The host the HTTP requests go to (docker.io → registry-1.docker.io). */
  endpoint: string;
  repository: string;
  tag?: string;
  digest?: string;
  reference: string;
}

// distribution/reference: path components of lower-case alphanumerics joined by separators
const COMPONENT = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const HOST = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:]+\])(?::\d{1,5})?$/;

function bad(name: string, why: string): FerryError {
  return new FerryError('BAD_INPUT_NAME', `input "docker://${name}": ${why}; use docker://HOST[:PORT]/REPO:TAG or docker://HOST[:PORT]/REPO@sha256:DIGEST`, { details: { input: `docker://${name}` } });
}

/** Parse what follows `docker://`. A reference without tag or digest means the tag "latest", as in skopeo. */
export function parseRegistryRef(name: string): RegistryRef {
  const slash = name.indexOf('/');
  if (slash <= 0) throw bad(name, 'a registry host and a repository are needed');
  const host = name.slice(0, slash);
  if (!HOST.test(host)) throw bad(name, `"${host}" is not a registry host`);
  let rest = name.slice(slash + 1);
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at !== -1) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!isSha256Digest(digest)) throw bad(name, `"${digest}" is not a sha256 digest`);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon !== -1) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw bad(name, `"${tag}" is not a valid tag`);
  }
  if (rest === '' || rest.length > 255 || !rest.split('/').every((c) => COMPONENT.test(c))) throw bad(name, `"${rest}" is not a valid repository name (lower case, components joined by "/")`);
  const docker = host === 'docker.io' || host === 'index.docker.io';
  const repository = docker && !rest.includes('/') ? `library/${rest}` : rest;
  if (digest === undefined && tag === undefined) tag = 'latest';
  const out: RegistryRef = { host, endpoint: docker ? 'registry-1.docker.io' : host, repository, reference: digest ?? tag! };
  if (tag !== undefined) out.tag = tag;
  if (digest !== undefined) out.digest = digest;
  return out;
}

/** The reference written back as a name (for messages). */
export function formatRegistryRef(r: RegistryRef): string {
  return `docker://${r.host}/${r.repository}${r.tag !== undefined ? `:${r.tag}` : ''}${r.digest !== undefined ? `@${r.digest}` : ''}`;
}
