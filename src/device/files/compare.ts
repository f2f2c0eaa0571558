/**
 * Comparing one entry found on disk with its file index entry (pure). Metadata is what
 * an image fixes and a running system should not change: type, permission bits, owner,
 * symlink target, device numbers, extended attributes (SELinux labels, capabilities).
 * Times are not compared (a directory's mtime changes whenever an entry below it does);
 * `--fast` uses a file's size and mtime only to decide whether its content needs hashing.
 */
import type { FileEntry } from './file-index.js';
import type { Observed } from './tree-walk.js';

/** How a file's content must be checked. */
export type ContentCheck = 'same' | 'differs' | 'hash';

/** Nanoseconds since the epoch of tar's decimal mtime text ("1700000000.25"). */
export function mtimeNs(mtime: string): bigint {
  const neg = mtime.startsWith('-');
  const [s, frac = ''] = (neg ? mtime.slice(1) : mtime).split('.');
  const ns = BigInt(s!) * 1_000_000_000n + BigInt((frac + '000000000').slice(0, 9));
  return neg ? -ns : ns;
}

function octal(n: number): string {
  return `0${n.toString(8).padStart(3, '0')}`;
}

/** The metadata differences of `got` from `want`, in words ("mode 0644 -> 0600"); [] when none. */
export function metadataChanges(want: FileEntry, got: Observed, link: string | undefined): string[] {
  if (want.type !== got.type) return [`type ${want.type} -> ${got.type}`];
  const out: string[] = [];
  const mode = got.st.mode & 0o7777;
  // A symlink's own mode is always 0777 on Linux: nothing to compare.
  if (want.type !== 'symlink' && mode !== want.mode) out.push(`mode ${octal(want.mode)} -> ${octal(mode)}`);
  const { uid, gid } = got.st;
  if (uid !== want.uid || gid !== want.gid) out.push(`owner ${want.uid}:${want.gid} -> ${uid}:${gid}`);
  if (want.type === 'symlink' && link !== want.link) out.push('symlink target changed');
  if ((want.type === 'char' || want.type === 'block') && got.st.rdev !== want.rdev) out.push(`device ${want.rdev} -> ${got.st.rdev}`);
  if (got.xattrs !== null && got.xattrs !== want.xattrs) out.push(want.xattrs === undefined ? 'xattrs added' : got.xattrs === undefined ? 'xattrs removed' : 'xattrs changed');
  return out;
}

/** Whether a regular file's content is known to be the same, known to differ, or must be hashed. */
export function contentCheck(want: FileEntry, got: Observed, fast: boolean): ContentCheck {
  if (want.type !== 'file' || got.type !== 'file') return 'same';
  if (want.size !== got.st.size) return 'differs';
  if (fast && got.st.mtimeNs === mtimeNs(want.mtime)) return 'same';
  return 'hash';
}
