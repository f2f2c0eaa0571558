/**
 * Image input names, spelled like skopeo/podman transports (containers-transports(5)):
 * `oci:DIR[:REF]`, `oci-archive:FILE[:REF]`, `docker-archive:FILE[:REF]`, `containers-storage:IMAGE`, and ferry's
 * own `rootfs:PATH` (a directory or a tarball), and `docker://HOST[:PORT]/REPO[:TAG|@DIGEST]` (a registry). Pure: a string in, a value or BAD_INPUT_NAME out.
 */
import { FerryError } from '../errors.js';
import { parseRegistryRef } from './registry/reference.js';

export type InputTransport = 'oci' | 'oci-archive' | 'docker-archive' | 'rootfs' | 'containers-storage' | 'docker';

/** A parsed input name. `ref` is the image's ref name (oci, oci-archive) or docker reference / @index (docker-archive). */
export interface InputName {
  transport: InputTransport;
  path: string;
  ref?: string;
}

const TRANSPORTS: readonly InputTransport[] = ['oci', 'oci-archive', 'docker-archive', 'rootfs', 'containers-storage', 'docker'];

function bad(name: string, why: string): FerryError {
  return new FerryError('BAD_INPUT_NAME', `input "${name}": ${why}; use oci:DIR[:REF], oci-archive:FILE[:REF], docker-archive:FILE[:REF], containers-storage:IMAGE, docker://HOST/REPO:TAG or rootfs:PATH`, {
    details: { input: name },
  });
}

/**
 * Parse an input name. As in skopeo, the path ends at the first ":" after the
 * transport (so paths cannot contain ":"), except for rootfs:, which takes the rest.
 */
export function parseInputName(name: string): InputName {
  const colon = name.indexOf(':');
  if (colon <= 0) throw bad(name, 'no transport prefix');
  const transport = name.slice(0, colon) as InputTransport;
  if (!TRANSPORTS.includes(transport)) throw bad(name, `unknown transport "${name.slice(0, colon)}"`);
  const rest = name.slice(colon + 1);
  if (transport === 'rootfs') {
    if (rest === '') throw bad(name, 'empty path');
    return { transport, path: rest };
  }
  if (transport === 'docker') {
    // the registry reference is checked in full by oci/registry/reference.ts
    if (!rest.startsWith('//') || rest.length === 2) throw bad(name, 'a registry image is written docker://HOST[:PORT]/REPO:TAG');
    parseRegistryRef(rest.slice(2));
    return { transport, path: rest.slice(2) };
  }
  if (transport === 'containers-storage') {
    // the rest is a whole image reference ([store]name:tag@digest), colons included
    if (rest === '' || /[\s\0]/.test(rest)) throw bad(name, 'an image reference such as localhost/kiosk:1.1.0 is needed');
    return { transport, path: rest };
  }
  const c2 = rest.indexOf(':');
  const p = c2 === -1 ? rest : rest.slice(0, c2);
  const ref = c2 === -1 ? undefined : rest.slice(c2 + 1);
  if (p === '') throw bad(name, 'empty path');
  if (ref !== undefined) {
    if (ref === '') throw bad(name, 'empty reference after ":"');
    if (/[\s\0]/.test(ref)) throw bad(name, 'the reference contains white space');
    if (transport === 'docker-archive' && ref.startsWith('@') && !/^@\d+$/.test(ref)) throw bad(name, 'a docker-archive index is written @N');
  }
  return ref === undefined ? { transport, path: p } : { transport, path: p, ref };
}

/** Target names as they appear in refs and file names. */
export const TARGET_NAME_RE = /^[a-z0-9][a-z0-9._-]*$/;

/** Semantic versioning 2.0.0 (semver.org, the recommended regular expression). */
export const SEMVER_RE =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;

/** Check a target name and version; throws USAGE naming the fix. */
export function checkTargetAndVersion(target: string, version: string): void {
  if (!TARGET_NAME_RE.test(target) || target.length > 128) {
    throw new FerryError('USAGE', `target "${target}" is not valid: use lower-case letters, digits, ".", "_" and "-", starting with a letter or digit`);
  }
  if (!SEMVER_RE.test(version) || version.length > 128) {
    throw new FerryError('USAGE', `version "${version}" is not a semantic version (e.g. 1.2.3 or 1.2.3-rc.1)`);
  }
}
