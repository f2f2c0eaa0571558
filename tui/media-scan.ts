/**
 * Finding the stick: a mounted filesystem whose root holds a FERRY/ folder, under the
 * places desktop automounters and udisks use (/run/media/<user>/<label>, /media/<label>,
 * /media/<user>/<label>, /mnt/<name>). Only the folder's presence is checked here; what is
 * inside is untrusted and is read by the engine with caps.
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';

/** Where sticks get mounted, as [base folder, depth of the mount point below it]. */
export const MOUNT_BASES: ReadonlyArray<readonly [string, number]> = [
  ['/run/media', 2],
  ['/media', 1],
  ['/media', 2],
  ['/mnt', 1],
];

/** Max entries looked at per folder: a stray /mnt with thousands of entries must not stall the UI. */
const MAX_ENTRIES = 256;

async function isDir(p: string): Promise<boolean> {
  try {
    return (await fsp.stat(p)).isDirectory();
  } catch {
    return false;
  }
}

async function childDirs(dir: string): Promise<string[]> {
  try {
    const ents = await fsp.readdir(dir, { withFileTypes: true });
    // Hidden entries (.Trash, ._AppleDouble) are never sticks.
    return ents.filter((e) => !e.name.startsWith('.') && (e.isDirectory() || e.isSymbolicLink())).slice(0, MAX_ENTRIES).map((e) => path.join(dir, e.name));
  } catch {
    return [];
  }
}

async function candidatesAt(dir: string, depth: number): Promise<string[]> {
  if (depth === 0) return [dir];
  const out: string[] = [];
  for (const child of await childDirs(dir)) out.push(...(await candidatesAt(child, depth - 1)));
  return out;
}

/** Every mounted stick with a FERRY/ folder, sorted; `prefix` re-roots the search (tests). */
export async function findMediaRoots(prefix = '/', bases = MOUNT_BASES): Promise<string[]> {
  const found = new Set<string>();
  for (const [base, depth] of bases) {
    for (const c of await candidatesAt(path.join(prefix, base), depth)) {
      if (await isDir(path.join(c, 'FERRY'))) found.add(c);
    }
  }
  return [...found].sort();
}

/** The media list: the sticks found, then the site registry of the config (always "in": it is not pulled out). */
export function withRegistry(roots: string[], registry: string | undefined): string[] {
  return registry === undefined || roots.includes(registry) ? roots : [...roots, registry];
}

/** The media root for a `--media` argument: the folder holding FERRY/, or FERRY/ itself; a docker:// registry as given. */
export async function mediaRootFor(dir: string): Promise<string> {
  if (dir.startsWith('docker://')) return dir;
  const abs = path.resolve(dir);
  if (await isDir(path.join(abs, 'FERRY'))) return abs;
  if (path.basename(abs) === 'FERRY' && (await isDir(abs))) return path.dirname(abs);
  return abs;
}
