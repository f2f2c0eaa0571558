/**
 * Walking a slot's tree for drift: one lstat per entry (never following links, never
 * leaving the slot's file system), and the extended attributes of a batch of entries
 * from one `getfattr` run (Node has no xattr API; see DEPENDENCIES.md). Entries are
 * yielded one at a time in path-byte order (the file index's), so memory holds only the
 * listings of the directories on the current path and a batch.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import type { BigIntStats } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { FerryError } from '../../errors.js';
import { fsPath } from '../extract/whiteouts.js';
import { type FileType, xattrDigest } from './file-index.js';
import type { IgnoreMatcher } from './glob.js';

/**
 * What drift compares of an entry's stat: a BigIntStats holds 18 BigInts (~550 bytes on the
 * heap), and two batches of 8,192 of them were a quarter of the heap a drift walk kept alive.
 */
export interface EntryStat {
  /** Permission bits and type (st_mode). */
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Nanoseconds: the index's mtime text is exact to the nanosecond. */
  mtimeNs: bigint;
  /** "major:minor" of a char or block device; "" for everything else. */
  rdev: string;
}

/** One entry found on disk. `path` is a byte string, relative ("" is the root). */
export interface Observed {
  path: string;
  st: EntryStat;
  type: FileType | 'socket';
  /** xattrDigest of its attributes; null when they could not be read (a name that is not UTF-8). */
  xattrs: string | undefined | null;
}

/** The index type of a stat result. */
export function typeOfStat(st: BigIntStats): Observed['type'] {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isCharacterDevice()) return 'char';
  if (st.isBlockDevice()) return 'block';
  if (st.isFIFO()) return 'fifo';
  return 'socket';
}

/** Device numbers "major:minor" of a stat's rdev (glibc's dev_t layout). */
export function rdevOf(rdev: bigint): string {
  const major = ((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & 0xfffff000n);
  const minor = (rdev & 0xffn) | ((rdev >> 12n) & 0xffffff00n);
  return `${major}:${minor}`;
}

/** The compact form of `st` (see EntryStat). */
function compact(st: BigIntStats, type: Observed['type']): EntryStat {
  const dev = type === 'char' || type === 'block';
  return { mode: Number(st.mode), uid: Number(st.uid), gid: Number(st.gid), size: Number(st.size), mtimeNs: st.mtimeNs, rdev: dev ? rdevOf(st.rdev) : '' };
}

/** The absolute display form of an entry path: "/" + UTF-8 (the root is "/"). */
export function displayPath(p: string): string {
  // ASCII (nearly every path of an OS image) needs no conversion: no Buffer per entry
  return ASCII.test(p) ? `/${p}` : `/${Buffer.from(p, 'latin1').toString('utf8')}`;
}

const ASCII = /^[\x00-\x7f]*$/;

/** Entries per getfattr run: each run costs a process start (100 ms on a busy device); a batch's arguments stay below ARG_MAX. */
const BATCH = 8192;
const BATCH_ARG_BYTES = 768 * 1024;

type Listed = { path: string; st: EntryStat; type: Observed['type'] };

/**
 * Walk `root`, yielding every entry not ignored (the root itself first, as ""), in path-byte
 * order: the order of a file index, so a caller can compare the two as a merge of sorted
 * streams. The getfattr run of one batch overlaps the lstat walk of the next; memory holds
 * at most two batches and the listings of the directories on the current path.
 */
export async function* walkTree(root: string, ignore: IgnoreMatcher): AsyncGenerator<Observed> {
  let batch: Listed[] = [];
  let argBytes = 0;
  let pending: Promise<Observed[]> | undefined;
  for await (const e of listSorted(root, ignore)) {
    batch.push(e);
    argBytes += root.length + e.path.length + 2;
    if (batch.length >= BATCH || argBytes >= BATCH_ARG_BYTES) {
      const next = withXattrs(root, batch);
      next.catch(() => undefined); // awaited below, after the previous batch
      if (pending) yield* await pending;
      pending = next;
      batch = [];
      argBytes = 0;
    }
  }
  if (pending) yield* await pending;
  yield* await withXattrs(root, batch);
}

/** A walk step: an entry to yield, or a directory whose subtree is listed when its turn comes. */
type Step = { key: string; entry: Listed; sub?: undefined } | { key: string; sub: string };

/**
 * Entries in path-byte order. A directory "d" stands in its parent's listing twice: as "d"
 * (itself) and as "d/" (its subtree), sorted with its siblings: every path below d sorts
 * between "d/" and the next sibling key, and "d-x" (before "/" in byte order) comes first.
 */
async function* listSorted(root: string, ignore: IgnoreMatcher): AsyncGenerator<Listed> {
  const rootSt = await fsp.lstat(root, { bigint: true });
  if (!ignore.ignores(displayPath(''))) {
    const type = typeOfStat(rootSt);
    yield { path: '', st: compact(rootSt, type), type };
  }
  // a stack, each listing pushed in descending order: the smallest key is on top
  const work: Step[] = ignore.prunes(displayPath('')) ? [] : [{ key: '/', sub: '' }];
  while (work.length > 0) {
    const step = work.pop()!;
    if (step.sub === undefined) {
      yield step.entry;
      continue;
    }
    const dir = step.sub;
    const names = await fsp.readdir(fsPath(root, dir), { encoding: 'buffer' });
    const steps: Step[] = [];
    for (const name of names) {
      const p = dir === '' ? name.toString('latin1') : `${dir}/${name.toString('latin1')}`;
      // synchronous: metadata is cached and a thread-pool round trip per entry costs more than the call
      const st = fs.lstatSync(fsPath(root, p), { bigint: true });
      const shown = displayPath(p);
      if (!ignore.ignores(shown)) {
        const type = typeOfStat(st);
        steps.push({ key: p, entry: { path: p, st: compact(st, type), type } });
      }
      // Other file systems mounted inside the slot (proc, a data partition) are not part of it.
      if (st.isDirectory() && st.dev === rootSt.dev && !ignore.prunes(shown)) steps.push({ key: `${p}/`, sub: p });
    }
    steps.sort((a, b) => (a.key < b.key ? 1 : a.key > b.key ? -1 : 0));
    for (const st of steps) work.push(st);
  }
}

async function withXattrs(root: string, batch: Listed[]): Promise<Observed[]> {
  if (batch.length === 0) return [];
  const digests = await readXattrs(root, batch.map((b) => b.path));
  return batch.map((b) => ({ path: b.path, st: b.st, type: b.type, xattrs: digests.get(b.path) ?? (isUtf8(b.path) ? undefined : null) }));
}

function isUtf8(p: string): boolean {
  if (ASCII.test(p)) return true;
  const buf = Buffer.from(p, 'latin1');
  return Buffer.from(buf.toString('utf8'), 'utf8').equals(buf);
}

/** Decode getfattr's escapes (\ooo octal, \\) in a byte string. */
function unescapeGetfattr(s: string): string {
  return s.replace(/\\([0-7]{3}|\\)/g, (_, m: string) => (m === '\\' ? '\\' : String.fromCharCode(parseInt(m, 8))));
}

/** xattr digests of `paths` (relative byte strings) that have any, from one getfattr run. */
export async function readXattrs(root: string, paths: string[]): Promise<Map<string, string>> {
  const args = ['-h', '-d', '-m', '-', '-e', 'hex', '--absolute-names', '--'];
  const named = paths.filter(isUtf8);
  if (named.length === 0) return new Map();
  const prefix = root.endsWith('/') ? root : `${root}/`;
  const out = await runGetfattr([...args, ...named.map((p) => (p === '' ? root : prefix + displayPath(p).slice(1)))]);
  const result = new Map<string, string>();
  const rootBytes = Buffer.from(prefix, 'utf8').toString('latin1');
  for (const block of out.split('\n\n')) {
    const lines = block.split('\n').filter((l) => l !== '');
    const head = lines.shift();
    if (!head?.startsWith('# file: ')) continue;
    const abs = unescapeGetfattr(head.slice(8));
    const rel = abs === rootBytes.slice(0, -1) ? '' : abs.startsWith(rootBytes) ? abs.slice(rootBytes.length) : undefined;
    if (rel === undefined) continue;
    const attrs: Array<[string, Buffer]> = [];
    for (const l of lines) {
      const eq = l.indexOf('=');
      const name = unescapeGetfattr(eq === -1 ? l : l.slice(0, eq));
      const v = eq === -1 ? '' : l.slice(eq + 1);
      attrs.push([Buffer.from(name, 'latin1').toString('utf8'), v.startsWith('0x') ? Buffer.from(v.slice(2), 'hex') : Buffer.from(v.replace(/^"|"$/g, ''), 'latin1')]);
    }
    const d = xattrDigest(attrs);
    if (d !== undefined) result.set(rel, d);
  }
  return result;
}

const OUT_CAP = 64 * 1024 * 1024;

function runGetfattr(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('getfattr', args, { stdio: ['ignore', 'pipe', 'ignore'], env: { ...process.env, LC_ALL: 'C' } });
    const chunks: Buffer[] = [];
    let size = 0;
    child.stdout.on('data', (b: Buffer) => {
      size += b.length;
      if (size <= OUT_CAP) chunks.push(b);
    });
    child.on('error', (e) => reject(new FerryError('COMMAND_FAILED', `cannot run getfattr to read extended attributes (${e.message}); install the attr package`, { cause: e })));
    // getfattr exits 1 when an entry vanished meanwhile; what it printed is still right.
    child.on('close', () => (size > OUT_CAP ? reject(new FerryError('LIMIT_EXCEEDED', `getfattr printed more than ${OUT_CAP} bytes for ${BATCH} entries`)) : resolve(Buffer.concat(chunks).toString('latin1'))));
  });
}
