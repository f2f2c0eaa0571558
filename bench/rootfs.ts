/**
 * The bench's synthetic root filesystem: a realistic mix (many small configs and
 * scripts, some large libraries, compressible text, incompressible firmware and
 * assets, symlinks, a hardlink) planned purely from (seed, size), then written.
 * Version 1.1.0 is 1.0.0 with some app and config files changed, added and deleted;
 * the base (/usr) is untouched, as in a typical application update.
 */
import { mkdir, open, rm, symlink, link, writeFile, utimes } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Prng, RandomBytes } from './prng.js';

/** How a file's bytes are made: text compresses ~4x, semi ~2x, random not at all. */
export type ContentKind = 'text' | 'semi' | 'random';

/** One entry of a planned tree. Paths are relative, '/'-separated. */
export type PlannedEntry =
  | { type: 'file'; path: string; size: number; content: ContentKind; salt: number }
  | { type: 'symlink'; path: string; target: string }
  | { type: 'hardlink'; path: string; target: string };

/** Fractions of the total size by kind of file (they sum to 1). */
const MIX = { small: 0.15, libs: 0.35, text: 0.2, firmware: 0.18, app: 0.12 } as const;

/** The layer each top-level directory goes into (the image is built from these, in order). */
export const LAYERS: readonly { name: string; paths: string[] }[] = [
  { name: 'base', paths: ['bin', 'lib', 'sbin', 'usr'] },
  { name: 'etc', paths: ['etc'] },
  { name: 'app', paths: ['opt'] },
];

/** Plan the 1.0.0 tree of about `sizeBytes` bytes. Pure: same inputs, same plan. */
export function planRootfs(seed: number, sizeBytes: number): PlannedEntry[] {
  const rng = new Prng(seed);
  const out: PlannedEntry[] = [
    { type: 'symlink', path: 'bin', target: 'usr/bin' },
    { type: 'symlink', path: 'lib', target: 'usr/lib' },
    { type: 'symlink', path: 'sbin', target: 'usr/sbin' },
  ];
  const big = Math.max(64 * 1024, Math.min(16 * 1024 * 1024, Math.floor(sizeBytes / 24)));
  let salt = 0;
  const fill = (budget: number, min: number, max: number, make: (i: number, size: number) => PlannedEntry) => {
    for (let used = 0, i = 0; used < budget; i++) {
      const size = Math.min(rng.int(min, max), Math.max(1, budget - used));
      out.push(make(i, size));
      used += size;
    }
  };
  fill(sizeBytes * MIX.small, 200, 16 * 1024, (i, size) => {
    const dir = i % 3 === 0 ? `etc/conf.d/group-${Math.floor(i / 120)}` : `usr/share/pkg-${Math.floor(i / 40)}`;
    const name = i % 2 === 0 ? `file-${i}.conf` : `script-${i}.sh`;
    return { type: 'file', path: `${dir}/${name}`, size, content: 'text', salt: salt++ };
  });
  fill(sizeBytes * MIX.libs, big / 8, big, (i, size) => ({ type: 'file', path: `usr/lib/x86_64-linux-gnu/libbench${i}.so.1.2.${i % 7}`, size, content: 'semi', salt: salt++ }));
  const libs = out.filter((e) => e.path.startsWith('usr/lib/x86_64-linux-gnu/libbench'));
  // the usual libfoo.so -> libfoo.so.1.2.3 development links
  for (const lib of libs.slice(0, 50)) out.push({ type: 'symlink', path: lib.path.replace(/\.1\.2\.\d+$/, ''), target: lib.path.split('/').pop() as string });
  fill(sizeBytes * MIX.text, 64 * 1024, Math.max(128 * 1024, big / 4), (i, size) => ({ type: 'file', path: `usr/share/doc/manual-${i}.txt`, size, content: 'text', salt: salt++ }));
  fill(sizeBytes * MIX.firmware, big / 4, big, (i, size) => ({ type: 'file', path: `usr/lib/firmware/vendor-${i % 5}/fw-${i}.bin`, size, content: 'random', salt: salt++ }));
  out.push({ type: 'file', path: 'usr/bin/python3.11', size: Math.min(big, 4 * 1024 * 1024), content: 'semi', salt: salt++ });
  out.push({ type: 'hardlink', path: 'usr/bin/python3', target: 'usr/bin/python3.11' });
  out.push({ type: 'symlink', path: 'usr/bin/python', target: 'python3' });
  out.push({ type: 'file', path: 'etc/os-release', size: 200, content: 'text', salt: salt++ });
  fill(sizeBytes * MIX.app, 4 * 1024, big / 2, (i, size) => {
    const kind: ContentKind = i % 3 === 0 ? 'random' : i % 3 === 1 ? 'semi' : 'text';
    return { type: 'file', path: `opt/app/${kind === 'random' ? 'assets' : kind === 'semi' ? 'lib' : 'share'}/item-${i}`, size, content: kind, salt: salt++ };
  });
  return out;
}

/** What turns 1.0.0 into 1.1.0: files rewritten, added and deleted (app and config only). */
export interface PlannedUpdate {
  changed: PlannedEntry[];
  added: PlannedEntry[];
  deleted: string[];
}

/** Plan the 1.1.0 changes relative to `base`. Pure. */
export function planUpdate(seed: number, base: readonly PlannedEntry[]): PlannedUpdate {
  const rng = new Prng(seed ^ 0x1100);
  const candidates = base.filter((e): e is Extract<PlannedEntry, { type: 'file' }> => e.type === 'file' && (e.path.startsWith('opt/') || e.path.startsWith('etc/')));
  const changed: PlannedEntry[] = [];
  const deleted: string[] = [];
  let salt = 1_000_000;
  for (const e of candidates) {
    const roll = rng.next();
    if (e.path === 'etc/os-release' || roll < 0.25) changed.push({ ...e, salt: salt++ });
    else if (roll < 0.3) deleted.push(e.path);
  }
  const added: PlannedEntry[] = [];
  const addCount = Math.max(3, Math.floor(candidates.length / 20));
  for (let i = 0; i < addCount; i++) {
    const from = rng.pick(candidates);
    added.push({ ...from, path: `opt/app/new/added-${i}`, salt: salt++ });
  }
  return { changed, added, deleted };
}

/** Total bytes of regular files in a plan. */
export function plannedBytes(plan: readonly PlannedEntry[]): number {
  return plan.reduce((sum, e) => sum + (e.type === 'file' ? e.size : 0), 0);
}

const FIXED_TIME = new Date('2026-01-01T00:00:00Z');
const CHUNK = 1024 * 1024;

/** Write the planned entries under `root` (which may already hold a tree). */
export async function writeEntries(root: string, seed: number, entries: readonly PlannedEntry[]): Promise<void> {
  const text = textPool(seed);
  const made = new Set<string>();
  for (const e of entries) {
    const abs = join(root, e.path);
    const dir = dirname(abs);
    if (!made.has(dir)) {
      await mkdir(dir, { recursive: true });
      made.add(dir);
    }
    await rm(abs, { force: true });
    if (e.type === 'symlink') await symlink(e.target, abs);
    else if (e.type === 'hardlink') await link(join(root, e.target), abs);
    else {
      await writeFileContent(abs, seed, e, text);
      await utimes(abs, FIXED_TIME, FIXED_TIME);
    }
  }
}

/** Apply a planned update to a copy of the 1.0.0 tree. */
export async function applyUpdate(root: string, seed: number, update: PlannedUpdate): Promise<void> {
  for (const p of update.deleted) await rm(join(root, p), { force: true });
  await writeEntries(root, seed, [...update.changed, ...update.added]);
}

async function writeFileContent(abs: string, seed: number, e: Extract<PlannedEntry, { type: 'file' }>, text: Buffer): Promise<void> {
  if (e.size <= 64 * 1024 && e.content === 'text') {
    await writeFile(abs, textSlice(text, e.salt, e.size, e.path));
    return;
  }
  const rnd = new RandomBytes(seed, `${e.salt}`);
  const fh = await open(abs, 'w');
  try {
    for (let done = 0; done < e.size; ) {
      const n = Math.min(CHUNK, e.size - done);
      await fh.write(chunkFor(e.content, rnd, text, e.salt + done, n));
      done += n;
    }
  } finally {
    await fh.close();
  }
}

function chunkFor(kind: ContentKind, rnd: RandomBytes, text: Buffer, offset: number, n: number): Buffer {
  if (kind === 'random') return rnd.take(n);
  if (kind === 'text') return textSlice(text, offset, n, '');
  // semi: alternate 4 KiB of noise with 4 KiB of text, like code mixed with string tables
  const out = Buffer.alloc(n);
  for (let at = 0; at < n; at += 8192) {
    rnd.take(Math.min(4096, n - at)).copy(out, at);
    if (at + 4096 < n) textSlice(text, offset + at, Math.min(4096, n - at - 4096), '').copy(out, at + 4096);
  }
  return out;
}

function textSlice(pool: Buffer, salt: number, n: number, header: string): Buffer {
  const out = Buffer.alloc(n);
  const head = Buffer.from(header ? `# ${header}\n` : '');
  head.copy(out, 0, 0, Math.min(n, head.length));
  // odd stride through the pool so neighbouring files do not share long runs
  let at = Math.min(n, head.length);
  let from = (salt * 7919) % pool.length;
  while (at < n) {
    const len = Math.min(n - at, pool.length - from, 1500);
    pool.copy(out, at, from, from + len);
    at += len;
    from = (from + len * 31 + 17) % pool.length;
  }
  return out;
}

const pools = new Map<number, Buffer>();

/** A 1 MiB pool of config-like text made from a seeded vocabulary. */
function textPool(seed: number): Buffer {
  const cached = pools.get(seed);
  if (cached) return cached;
  const rng = new Prng(seed ^ 0x7e47);
  const letters = 'abcdefghijklmnopqrstuvwxyz';
  const words = Array.from({ length: 3000 }, () => Array.from({ length: rng.int(2, 10) }, () => rng.pick([...letters])).join(''));
  const lines: string[] = [];
  let size = 0;
  while (size < CHUNK) {
    const n = rng.int(3, 12);
    const line = rng.next() < 0.3 ? `${rng.pick(words)}_${rng.pick(words)}=${rng.int(0, 99999)}` : Array.from({ length: n }, () => rng.pick(words)).join(' ');
    lines.push(line);
    size += line.length + 1;
  }
  const pool = Buffer.from(lines.join('\n')).subarray(0, CHUNK);
  pools.set(seed, pool);
  return pool;
}
