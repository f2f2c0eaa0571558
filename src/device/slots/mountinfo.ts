/**
 * /proc/self/mountinfo, as the slots need it (pure): which device each mount is of
 * and where it is mounted (proc(5): field 3 is major:minor, field 5 the mount point
 * with space, tab, newline and backslash written as octal escapes).
 */

/** One line of mountinfo. */
export interface MountEntry {
  majMin: string;
  point: string;
}

/** Every mount listed in `mountinfo`, mount points decoded. */
export function parseMountinfo(mountinfo: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of mountinfo.split('\n')) {
    const f = line.split(' ');
    if (f[4] !== undefined) out.push({ majMin: f[2]!, point: f[4].replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))) });
  }
  return out;
}
