/**
 * The file index of an image (DESIGN.md section 6, "File index"): one entry per path of
 * the final tree, after whiteouts, sorted by path bytes. Pure: values in, values or bytes out.
 *
 * Serialised as JSON with exactly one entry per line, so the same bytes are a plain JSON
 * document for any reader and a stream ferry parses line by line with a cap per line
 * (never one string of the whole index in memory):
 *   {"schema":"ferry.files/v1","image":"sha256:…","entries":[
 *   {"path":"etc","type":"dir",…},
 *   …
 *   ]}
 * Paths are kept inside ferry as byte strings (latin1, one char per byte, as the tar
 * sanitiser has them); in JSON a name that is valid UTF-8 is written as `path`, any
 * other as `pathHex` (the same for `link` / `linkHex`).
 */
import { createHash } from 'node:crypto';
import { FerryError } from '../../errors.js';

export const FILE_INDEX_SCHEMA = 'ferry.files/v1';
/**
 * Entries an index may hold: an entry costs ~350 bytes in memory, so the cap keeps an index
 * under ~175 MiB at worst; a Debian minbase has ~10,000 entries, a full desktop ~300,000.
 * An image with more is installed without an index (drift then says so).
 */
export const FILE_INDEX_MAX_ENTRIES = 500_000;
/** The longest line (one entry) a reader accepts. */
export const FILE_INDEX_MAX_LINE = 64 * 1024;

export type FileType = 'file' | 'dir' | 'symlink' | 'char' | 'block' | 'fifo';
export const FILE_TYPES: readonly FileType[] = ['file', 'dir', 'symlink', 'char', 'block', 'fifo'];

/** One entry of the final tree. `path` and `link` are byte strings; "" is the root. */
export interface FileEntry {
  path: string;
  type: FileType;
  /** Permission bits (07777). */
  mode: number;
  uid: number;
  gid: number;
  /** Content bytes of a file (0 for everything else). */
  size: number;
  /** Modification time as tar's decimal text ("1700000000" or "1700000000.25"). */
  mtime: string;
  /** Symlink target (byte string); absent for other types. */
  link?: string;
  /** "major:minor" of char and block devices. */
  rdev?: string;
  /** xattrDigest() of the entry's extended attributes; absent when it has none. */
  xattrs?: string;
  /** Hex SHA-256 of a file's content. */
  sha256?: string;
}

/** A whole index: which image it describes and its entries, sorted by path bytes. */
export interface FileIndex {
  image: string;
  entries: FileEntry[];
}

/**
 * The digest of a set of extended attributes: SHA-256 over the attributes sorted by name,
 * each as name bytes, NUL, value length (4 bytes big-endian), value bytes. Undefined for none.
 */
export function xattrDigest(attrs: Iterable<[string, Buffer]>): string | undefined {
  const list = [...attrs].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (list.length === 0) return undefined;
  const h = createHash('sha256');
  for (const [name, value] of list) {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(value.length);
    h.update(Buffer.from(name, 'utf8')).update(Buffer.of(0)).update(len).update(value);
  }
  return `sha256:${h.digest('hex')}`;
}

/** Byte-string order (latin1 char codes are the bytes). */
export function comparePaths(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A byte string as JSON fields: `{key: utf8}` when valid UTF-8, else `{keyHex: hex}`. */
function nameFields(key: string, bs: string): Record<string, string> {
  const buf = Buffer.from(bs, 'latin1');
  const s = buf.toString('utf8');
  return Buffer.from(s, 'utf8').equals(buf) ? { [key]: s } : { [`${key}Hex`]: buf.toString('hex') };
}

/** The first line of a serialised index. */
export function indexHeaderLine(image: string): string {
  return `{"schema":"${FILE_INDEX_SCHEMA}","image":${JSON.stringify(image)},"entries":[`;
}

/** The closing line of a serialised index. */
export const INDEX_END_LINE = ']}';

/** One entry as its JSON line (without the separating comma). */
export function entryLine(e: FileEntry): string {
  return JSON.stringify({
    ...nameFields('path', e.path),
    type: e.type,
    mode: e.mode,
    uid: e.uid,
    gid: e.gid,
    size: e.size,
    mtime: e.mtime,
    ...(e.link !== undefined ? nameFields('link', e.link) : {}),
    ...(e.rdev !== undefined ? { rdev: e.rdev } : {}),
    ...(e.xattrs !== undefined ? { xattrs: e.xattrs } : {}),
    ...(e.sha256 !== undefined ? { sha256: e.sha256 } : {}),
  });
}

function bad(what: string, msg: string): FerryError {
  return new FerryError('CORRUPT_FILE_INDEX', `${what}: ${msg}; the file index is damaged: reinstall the slot or re-export the media`);
}

const DIGEST = /^sha256:[0-9a-f]{64}$/;
const HEX64 = /^[0-9a-f]{64}$/;
const KEYS = new Set(['path', 'pathHex', 'type', 'mode', 'uid', 'gid', 'size', 'mtime', 'link', 'linkHex', 'rdev', 'xattrs', 'sha256']);

function nameOf(o: Record<string, unknown>, key: string, what: string): string | undefined {
  const plain = o[key];
  const hex = o[`${key}Hex`];
  if (plain !== undefined && hex !== undefined) throw bad(what, `an entry has both ${key} and ${key}Hex`);
  if (typeof plain === 'string') return Buffer.from(plain, 'utf8').toString('latin1');
  if (typeof hex === 'string' && /^([0-9a-f]{2})*$/.test(hex)) return Buffer.from(hex, 'hex').toString('latin1');
  if (plain !== undefined || hex !== undefined) throw bad(what, `an entry's ${key} is not a string`);
  return undefined;
}

function uint(v: unknown, max = Number.MAX_SAFE_INTEGER): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 && v <= max;
}

/** Validate one parsed entry line; CORRUPT_FILE_INDEX lists the first bad field. */
export function parseEntry(v: unknown, what: string): FileEntry {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad(what, 'an entry is not an object');
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!KEYS.has(k)) throw bad(what, `an entry has the unknown field ${JSON.stringify(k)}`);
  const path = nameOf(o, 'path', what);
  if (path === undefined) throw bad(what, 'an entry has no path');
  const p = JSON.stringify(path.slice(0, 80));
  if (!FILE_TYPES.includes(o.type as FileType)) throw bad(what, `${p} has the unknown type ${JSON.stringify(o.type)}`);
  if (!uint(o.mode, 0o7777) || !uint(o.uid, 0xffffffff) || !uint(o.gid, 0xffffffff) || !uint(o.size)) throw bad(what, `${p} has a bad mode, uid, gid or size`);
  if (typeof o.mtime !== 'string' || !/^-?[0-9]{1,12}(\.[0-9]{1,20})?$/.test(o.mtime)) throw bad(what, `${p} has a bad mtime`);
  const link = nameOf(o, 'link', what);
  if (o.rdev !== undefined && (typeof o.rdev !== 'string' || !/^[0-9]{1,10}:[0-9]{1,10}$/.test(o.rdev))) throw bad(what, `${p} has a bad rdev`);
  if (o.xattrs !== undefined && (typeof o.xattrs !== 'string' || !DIGEST.test(o.xattrs))) throw bad(what, `${p} has a bad xattrs digest`);
  if (o.sha256 !== undefined && (typeof o.sha256 !== 'string' || !HEX64.test(o.sha256))) throw bad(what, `${p} has a bad sha256`);
  const type = o.type as FileType;
  if ((type === 'file') !== (o.sha256 !== undefined)) throw bad(what, `${p}: a sha256 belongs to files and only to files`);
  if ((type === 'symlink') !== (link !== undefined)) throw bad(what, `${p}: a link target belongs to symlinks and only to symlinks`);
  return {
    path,
    type,
    mode: o.mode,
    uid: o.uid,
    gid: o.gid,
    size: o.size,
    mtime: o.mtime,
    ...(link !== undefined ? { link } : {}),
    ...(typeof o.rdev === 'string' ? { rdev: o.rdev } : {}),
    ...(typeof o.xattrs === 'string' ? { xattrs: o.xattrs } : {}),
    ...(typeof o.sha256 === 'string' ? { sha256: o.sha256 } : {}),
  };
}

/** Parse the header line; returns the image digest. */
export function parseHeaderLine(line: string, what: string): string {
  const m = /^\{"schema":"ferry\.files\/v1","image":"(sha256:[0-9a-f]{64})","entries":\[$/.exec(line);
  if (!m) throw bad(what, 'it does not start with a ferry.files/v1 header');
  return m[1]!;
}

/** Incremental line parser for a serialised index: feed lines in order, then end(). */
export class IndexLineParser {
  image: string | undefined;
  private last: string | undefined;
  private ended = false;
  count = 0;
  constructor(
    private readonly what: string,
    private readonly onEntry: (e: FileEntry) => void,
    private readonly maxEntries = FILE_INDEX_MAX_ENTRIES,
  ) {}

  /** One line, without its newline. */
  line(l: string): void {
    if (l.length > FILE_INDEX_MAX_LINE) throw bad(this.what, `a line is over ${FILE_INDEX_MAX_LINE} bytes`);
    if (this.ended) throw bad(this.what, 'it has data after its end');
    if (this.image === undefined) {
      this.image = parseHeaderLine(l, this.what);
      return;
    }
    if (l === INDEX_END_LINE) {
      this.ended = true;
      return;
    }
    const body = l.endsWith(',') ? l.slice(0, -1) : l;
    if (this.count > 0 && !this.pendingComma) throw bad(this.what, 'entries are not separated by commas');
    this.pendingComma = l.endsWith(',');
    let v: unknown;
    try {
      v = JSON.parse(body);
    } catch {
      throw bad(this.what, `line ${this.count + 2} is not JSON`);
    }
    const e = parseEntry(v, this.what);
    if (this.last !== undefined && comparePaths(this.last, e.path) >= 0) throw bad(this.what, `entries are not sorted by path or repeat one (${JSON.stringify(e.path.slice(0, 80))})`);
    if (++this.count > this.maxEntries) throw bad(this.what, `more than ${this.maxEntries} entries`);
    this.last = e.path;
    this.onEntry(e);
  }

  private pendingComma = false;

  /** The input ended: it must have been complete. */
  end(): string {
    if (!this.ended || this.image === undefined) throw bad(this.what, 'it is truncated');
    if (this.pendingComma) throw bad(this.what, 'its last entry is followed by a comma');
    return this.image;
  }
}
