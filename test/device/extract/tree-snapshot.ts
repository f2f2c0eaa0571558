/**
 * A comparable snapshot of a directory tree for fidelity tests: per path its type,
 * mode, owner, size, content hash, symlink target, device number and extended
 * attributes (read with the real getfattr), plus the hardlink groups.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface NodeInfo {
  type: string;
  mode: string;
  uid: number;
  gid: number;
  size?: number;
  sha256?: string;
  target?: string;
  rdev?: number;
  xattrs?: Record<string, string>;
}

export interface TreeSnapshot {
  nodes: Record<string, NodeInfo>;
  /** Groups of paths sharing one inode (size > 1 only), sorted. */
  hardlinks: string[][];
}

function typeOf(st: fs.Stats): string {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isCharacterDevice()) return 'char';
  if (st.isBlockDevice()) return 'block';
  if (st.isFIFO()) return 'fifo';
  return 'socket';
}

/** Every xattr below `root` by relative path, via `getfattr -R -P -d -m - -e hex`. */
export function readXattrs(root: string): Record<string, Record<string, string>> {
  const out = execFileSync('getfattr', ['-R', '-P', '-h', '-d', '-m', '-', '-e', 'hex', '--absolute-names', root], { encoding: 'latin1', maxBuffer: 64 << 20 });
  const res: Record<string, Record<string, string>> = {};
  let cur: Record<string, string> | undefined;
  for (const line of out.split('\n')) {
    if (line.startsWith('# file: ')) {
      const rel = path.relative(root, line.slice(8)) || '.';
      cur = res[rel] = {};
    } else if (cur && line.includes('=')) {
      const eq = line.indexOf('=');
      cur[line.slice(0, eq)] = line.slice(eq + 1);
    }
  }
  return res;
}

/** Snapshot `root` (the root directory itself is "."), skipping names in `ignore`. */
export function snapshotTree(root: string, ignore: string[] = []): TreeSnapshot {
  const nodes: Record<string, NodeInfo> = {};
  const inodes = new Map<number, string[]>();
  const xattrs = readXattrs(root);
  const walk = (rel: string): void => {
    const abs = rel === '.' ? root : path.join(root, rel);
    const st = fs.lstatSync(abs);
    const info: NodeInfo = { type: typeOf(st), mode: (st.mode & 0o7777).toString(8), uid: st.uid, gid: st.gid };
    if (info.type === 'file') {
      info.size = st.size;
      info.sha256 = createHash('sha256').update(fs.readFileSync(abs)).digest('hex');
      if (st.nlink > 1) inodes.set(st.ino, [...(inodes.get(st.ino) ?? []), rel]);
    }
    if (info.type === 'symlink') info.target = fs.readlinkSync(abs);
    if (info.type === 'char' || info.type === 'block') info.rdev = st.rdev;
    if (xattrs[rel] && Object.keys(xattrs[rel]).length) info.xattrs = xattrs[rel];
    nodes[rel] = info;
    if (info.type === 'dir') {
      for (const name of fs.readdirSync(abs).sort()) {
        const child = rel === '.' ? name : `${rel}/${name}`;
        if (!ignore.includes(child)) walk(child);
      }
    }
  };
  walk('.');
  const hardlinks = [...inodes.values()].filter((g) => g.length > 1).map((g) => g.sort()).sort((a, b) => a[0]!.localeCompare(b[0]!));
  return { nodes, hardlinks };
}
