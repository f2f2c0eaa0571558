/**
 * What the technician needs to know about the stick itself before trusting it with a
 * receipt: its label, the device, the file system, size, free space, and whether it is
 * mounted read-only. Read from /proc/self/mountinfo, statfs and /dev/disk/by-label;
 * every part is optional (an archive file or a plain folder has no device or label).
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { parseMountinfo } from '../util/mountinfo.js';

/** The stick as the technician sees it. */
export interface StickInfo {
  root: string;
  label?: string;
  device?: string;
  fsType?: string;
  sizeBytes?: number;
  freeBytes?: number;
  readOnly?: boolean;
}

async function labelOf(device: string, byLabel: string): Promise<string | undefined> {
  const names = await fsp.readdir(byLabel).catch(() => [] as string[]);
  const real = await fsp.realpath(device).catch(() => device);
  for (const n of names.slice(0, 256)) {
    const target = await fsp.realpath(path.join(byLabel, n)).catch(() => undefined);
    // udev escapes spaces and slashes in label names as \x20 and \x2f.
    if (target === real) return n.replace(/\\x([0-9a-f]{2})/gi, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
  }
  return undefined;
}

/** Describe the file system holding `root` (the mount whose point is the longest prefix of its real path). */
export async function stickInfo(root: string, files = { mountinfo: '/proc/self/mountinfo', byLabel: '/dev/disk/by-label' }): Promise<StickInfo> {
  const real = await fsp.realpath(root).catch(() => path.resolve(root));
  const out: StickInfo = { root };
  const mi = await fsp.readFile(files.mountinfo, 'utf8').catch(() => '');
  const under = (p: string) => p === '/' || real === p || real.startsWith(p.endsWith('/') ? p : `${p}/`);
  const mount = parseMountinfo(mi).filter((m) => under(m.point)).sort((a, b) => b.point.length - a.point.length)[0];
  if (mount) {
    if (mount.type) out.fsType = mount.type;
    if (mount.readOnly !== undefined) out.readOnly = mount.readOnly;
    if (mount.source?.startsWith('/')) {
      out.device = mount.source;
      const label = await labelOf(mount.source, files.byLabel);
      if (label !== undefined) out.label = label;
    }
  }
  const st = await fsp.statfs(real).catch(() => undefined);
  if (st) {
    out.sizeBytes = st.blocks * st.bsize;
    out.freeBytes = st.bavail * st.bsize;
  }
  return out;
}
