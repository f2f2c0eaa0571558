/**
 * /proc/self/mountinfo (pure): which device each mount is of, where it is mounted and
 * its file system type (proc(5): field 3 is major:minor, field 5 the mount point with
 * space, tab, newline and backslash written as octal escapes; the type follows " - ").
 */

/** One line of mountinfo. */
export interface MountEntry {
  majMin: string;
  point: string;
  /** File system type, e.g. "ext4", "vfat", "fuse.fusefat" (undefined on a malformed line). */
  type: string | undefined;
  /** The mounted device or source, e.g. "/dev/sdb1" (after the type). */
  source?: string;
  /** Mounted read-only (per-mount option "ro"). */
  readOnly?: boolean;
}

/** Every mount listed in `mountinfo`, mount points decoded. */
export function parseMountinfo(mountinfo: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of mountinfo.split('\n')) {
    const [left, right] = line.split(' - ');
    const f = left!.split(' ');
    const r = right?.split(' ') ?? [];
    if (f[4] !== undefined) {
      out.push({
        majMin: f[2]!, point: f[4].replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))), type: r[0] || undefined,
        ...(r[1] ? { source: r[1] } : {}), readOnly: (f[5] ?? '').split(',').includes('ro'),
      });
    }
  }
  return out;
}
