/**
 * Path rules for layer entries (pure). ferry refuses, rather than rewrites, any name
 * that could reach outside the slot root: an absolute name, a ".." component, a NUL.
 * GNU tar would strip or skip such names itself; refusing keeps ferry's view and
 * tar's view of every accepted name identical.
 */
import { FerryError } from '../../errors.js';
import { ExtractCaps } from '../../oci/tar-header.js';

/** The entry types ferry passes to tar (ustar typeflags 0-7). */
export type EntryKind = 'file' | 'hardlink' | 'symlink' | 'char' | 'block' | 'dir' | 'fifo';

/** The kind for a ustar typeflag, or undefined for anything else (GNU sparse, dumpdir, volume...). */
export function kindOfTypeflag(tf: string): EntryKind | undefined {
  switch (tf) {
    case '0':
    case '7': // contiguous file: a regular file everywhere but on one 1980s system
      return 'file';
    case '1':
      return 'hardlink';
    case '2':
      return 'symlink';
    case '3':
      return 'char';
    case '4':
      return 'block';
    case '5':
      return 'dir';
    case '6':
      return 'fifo';
    default:
      return undefined;
  }
}

/** True for kinds whose header is never followed by data (a non-zero size is refused). */
export function isHeaderOnly(kind: EntryKind): boolean {
  return kind !== 'file';
}

/** UNSAFE_PATH for `name` in layer `what`. */
export function unsafePath(what: string, name: string, why: string): FerryError {
  const shown = JSON.stringify(name.length > 200 ? `${name.slice(0, 200)}...` : name);
  return new FerryError('UNSAFE_PATH', `${what}: entry ${shown} ${why}; the image was refused and nothing was activated: rebuild it without that entry`, {
    details: { entry: name, reason: why },
  });
}

/**
 * Normalise an entry name to "a/b/c" (the root is ""), refusing absolute names,
 * ".." components, NULs and over-long names with UNSAFE_PATH.
 */
export function normalizeEntryPath(name: string, what: string): string {
  if (name.length > ExtractCaps.nameLength) {
    throw new FerryError('FILE_TOO_LARGE', `${what}: an entry name is ${name.length} bytes, over the ${ExtractCaps.nameLength}-byte cap; rebuild the image`);
  }
  if (name.includes('\0')) throw unsafePath(what, name, 'contains a NUL byte');
  if (name === '') throw unsafePath(what, name, 'has an empty name');
  if (name.startsWith('/')) throw unsafePath(what, name, 'is an absolute path');
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw unsafePath(what, name, 'has a ".." component');
  return parts.join('/');
}

/** The parent of a normalised path ("" for top-level names and for the root). */
export function parentOf(p: string): string {
  const i = p.lastIndexOf('/');
  return i === -1 ? '' : p.slice(0, i);
}

/** The last component of a normalised path. */
export function baseOf(p: string): string {
  return p.slice(p.lastIndexOf('/') + 1);
}

/** What a whiteout entry asks for (image-spec layer.md "Whiteouts"). */
export type Whiteout =
  /** `<dir>/.wh.<name>`: delete `<dir>/<name>` from lower layers. */
  | { kind: 'remove'; path: string }
  /** `<dir>/.wh..wh..opq`: hide every lower-layer child of `<dir>`. */
  | { kind: 'opaque'; dir: string }
  /** Other `.wh..wh.*` names are reserved by the spec: dropped, no effect. */
  | { kind: 'reserved' };

export const WHITEOUT_PREFIX = '.wh.';
export const OPAQUE_MARKER = '.wh..wh..opq';

/** The whiteout a normalised path denotes, or undefined for an ordinary entry. */
export function whiteoutOf(p: string, what: string): Whiteout | undefined {
  const base = baseOf(p);
  if (!base.startsWith(WHITEOUT_PREFIX)) return undefined;
  const dir = parentOf(p);
  if (base === OPAQUE_MARKER) return { kind: 'opaque', dir };
  if (base.startsWith(`${WHITEOUT_PREFIX}${WHITEOUT_PREFIX}`)) return { kind: 'reserved' };
  const target = base.slice(WHITEOUT_PREFIX.length);
  if (target === '' || target === '.' || target === '..') throw unsafePath(what, p, 'is a whiteout of an invalid name');
  return { kind: 'remove', path: dir === '' ? target : `${dir}/${target}` };
}
