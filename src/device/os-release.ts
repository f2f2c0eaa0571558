/**
 * os-release(5) of a slot: `etc/os-release`, else `usr/lib/os-release`, under the slot's root.
 * `ferry device init` takes the running image's version from it (IMAGE_VERSION, which image
 * builders such as bootc and mkosi set, else VERSION_ID). Symlinks are followed only while they
 * stay inside the slot (Debian's etc/os-release points to ../usr/lib/os-release); one that leads
 * out (e.g. an absolute link, which would name the running system's file) is not read.
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { readFileCapped } from '../util/fsx.js';

const OS_RELEASE_CAP = 64 * 1024;

/** Parse os-release text: KEY=value lines, values optionally quoted, `\` escapes in double quotes (pure). */
export function parseOsRelease(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^\s*([A-Z][A-Z0-9_]*)=(.*?)\s*$/.exec(line);
    if (!m) continue;
    let v = m[2]!;
    if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1).replace(/\\(["\\`$])/g, '$1');
    else if (v.length >= 2 && v.startsWith("'") && v.endsWith("'")) v = v.slice(1, -1);
    out[m[1]!] = v;
  }
  return out;
}

/** `rel` under `root` with every symlink resolved, or undefined when it is missing or resolves outside `root`. */
async function resolveInside(root: string, rel: string): Promise<string | undefined> {
  const real = await fsp.realpath(path.join(root, rel)).catch(() => undefined);
  const realRoot = await fsp.realpath(root).catch(() => undefined);
  if (real === undefined || realRoot === undefined) return undefined;
  const r = path.relative(realRoot, real);
  return r.startsWith('..') || path.isAbsolute(r) ? undefined : real;
}

/** The os-release fields of the slot rooted at `root` ({} when it has none). */
export async function readOsRelease(root: string): Promise<Record<string, string>> {
  for (const rel of ['etc/os-release', 'usr/lib/os-release']) {
    const file = await resolveInside(root, rel);
    const st = file === undefined ? undefined : await fsp.stat(file).catch(() => undefined);
    if (!st?.isFile()) continue;
    return parseOsRelease((await readFileCapped(file!, OS_RELEASE_CAP, 'os-release')).toString('utf8'));
  }
  return {};
}
