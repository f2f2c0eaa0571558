/**
 * The streaming tar filter between a verified layer and GNU tar. It parses every
 * header itself (never trusting tar to agree), asks an EntryGate about each entry
 * before any of its bytes move on, and hands tar a canonical header re-encoded from
 * ferry's parsed view (tar-encode.ts) instead of the layer's own header bytes: GNU
 * tar only ever sees what ferry checked, so no parser differential can matter. Data
 * bytes pass through unchanged, chunk by chunk (no entry is ever held in memory).
 * Whiteouts, global pax headers, unknown pax keys and anything refused never reach tar.
 */
import { FerryError } from '../../errors.js';
import { type EntryKind, isHeaderOnly, kindOfTypeflag, normalizeEntryPath, unsafePath } from './entry-path.js';
import { BLOCK, corruptArchive, ExtractCaps, isZeroBlock, paddedSize, parseHeader, parsePaxRecords, paxNumber, type RawHeader } from '../../oci/tar-header.js';
import { encodeEntry, XATTR_PREFIX } from './tar-encode.js';
import type { EntryTap } from '../files/index-builder.js';

/** One entry as ferry understands it, after pax and GNU long-name headers are applied. */
export interface TarEntry {
  /** Normalised path ("a/b"; "" is the root). */
  path: string;
  kind: EntryKind;
  /** Hardlinks: the normalised target path. Symlinks: the raw target text. Others: "". */
  link: string;
  size: number;
  uid: number;
  gid: number;
  /** Permission bits as GNU tar applies them (07777: setuid, setgid and sticky included). */
  mode: number;
  /** Modification time as pax decimal text: seconds, maybe "-" and a fraction ("1700000000.25"). */
  mtime: string;
  /** Device numbers of char and block entries (0 otherwise). */
  devmajor: number;
  devminor: number;
  /** SCHILY.xattr.* records in order: [attribute name, value as a byte string]. */
  xattrs: Array<[string, string]>;
}

/** Decides, before an entry's bytes reach tar, whether it passes or is dropped; throws to refuse. */
export interface EntryGate {
  admit(e: TarEntry): 'pass' | 'drop' | Promise<'pass' | 'drop'>;
}

/** Where accepted bytes go (GNU tar's stdin), in order; resolves when more may follow. */
export interface ByteSink {
  write(chunks: Buffer[]): Promise<void>;
}

/** The largest uid or gid (uid_t and gid_t are 32-bit on Linux). */
const MAX_ID = 0xffffffff;

type State = 'header' | 'meta' | 'data' | 'skip' | 'end';

/** Pending extended headers that apply to the next entry. */
interface Pending {
  /** True once an extended header was seen (it must be followed by an entry). */
  used: boolean;
  pax: Map<string, string>;
  longName?: string;
  longLink?: string;
  sawPax?: boolean;
}

/** The sanitising parser for one layer's tar stream. */
export class TarSanitizer {
  private state: State = 'header';
  private readonly hdr = Buffer.alloc(BLOCK);
  private hdrFill = 0;
  private meta: { kind: string; data: Buffer; fill: number; size: number } | undefined;
  private remaining = 0;
  private pending: Pending = { used: false, pax: new Map() };
  private out: Buffer[] = [];
  private entries = 0;
  /** Content bytes of the current entry the tap has still to see. */
  private tapLeft = 0;
  /** Uncompressed tar bytes forwarded to the sink. */
  bytesForwarded = 0;

  constructor(
    private readonly what: string,
    private readonly gate: EntryGate,
    private readonly sink: ByteSink,
    /** Sees every entry and its content bytes (the file index is built from it). */
    private readonly tap?: EntryTap,
  ) {}

  /** Feed the next chunk of the uncompressed layer; resolves when it has been handled. */
  async push(chunk: Buffer): Promise<void> {
    let off = 0;
    while (off < chunk.length) {
      switch (this.state) {
        case 'end':
          return this.flush(); // bytes after the end-of-archive block: hashed upstream, ignored here
        case 'data':
        case 'skip': {
          const n = Math.min(this.remaining, chunk.length - off);
          if (this.state === 'data') this.emit(chunk.subarray(off, off + n));
          if (this.tapLeft > 0) this.feedTap(chunk.subarray(off, off + Math.min(n, this.tapLeft)));
          this.remaining -= n;
          off += n;
          if (this.remaining === 0) this.state = 'header';
          break;
        }
        case 'meta':
          off = this.fillMeta(chunk, off);
          break;
        case 'header': {
          let block: Buffer;
          if (this.hdrFill === 0 && chunk.length - off >= BLOCK) {
            block = chunk.subarray(off, off + BLOCK);
            off += BLOCK;
          } else {
            const n = Math.min(BLOCK - this.hdrFill, chunk.length - off);
            chunk.copy(this.hdr, this.hdrFill, off, off + n);
            this.hdrFill += n;
            off += n;
            if (this.hdrFill < BLOCK) break;
            this.hdrFill = 0;
            block = Buffer.from(this.hdr);
          }
          const pending = this.onHeader(block);
          if (pending) await pending; // only when the gate went asynchronous
          break;
        }
      }
    }
    await this.flush();
  }

  /** The layer ended: refuse a truncated archive, then send tar the end-of-archive blocks. */
  async finish(): Promise<void> {
    const clean = this.state === 'end' || (this.state === 'header' && this.hdrFill === 0 && !this.pending.used);
    if (!clean) throw corruptArchive(this.what, 'the tar stream is truncated (it ends inside an entry)');
    this.emit(Buffer.alloc(2 * BLOCK));
    await this.flush();
  }

  private emit(b: Buffer): void {
    this.out.push(b);
    this.bytesForwarded += b.length;
  }

  private async flush(): Promise<void> {
    if (this.out.length === 0) return;
    // Slices of the input chunk, not copies: the sink writes them with one writev.
    const chunks = this.out;
    this.out = [];
    await this.sink.write(chunks);
  }

  private onHeader(block: Buffer): Promise<void> | undefined {
    if (isZeroBlock(block)) {
      if (this.pending.used) throw corruptArchive(this.what, 'an extended header is followed by the end of the archive');
      this.state = 'end';
      return undefined;
    }
    const h = parseHeader(block, this.what);
    switch (h.typeflag) {
      case 'x':
      case 'g':
      case 'L':
      case 'K':
        this.startMeta(h);
        return undefined;
    }
    const kind = kindOfTypeflag(h.typeflag);
    if (kind === undefined) throw corruptArchive(this.what, `entry ${JSON.stringify(h.name)} has unsupported tar type "${h.typeflag}" (sparse, multi-volume and incremental entries are not accepted)`);
    const entry = this.resolveEntry(h, kind);
    if (++this.entries > ExtractCaps.entries) throw new FerryError('LIMIT_EXCEEDED', `${this.what}: more than ${ExtractCaps.entries} entries in one layer; split the image into more layers`);
    const verdict = this.gate.admit(entry);
    if (typeof verdict !== 'string') return verdict.then((v) => this.afterVerdict(v, entry));
    this.afterVerdict(verdict, entry);
    return undefined;
  }

  private afterVerdict(verdict: 'pass' | 'drop', entry: TarEntry): void {
    if (verdict === 'pass') this.emit(encodeEntry(entry));
    if (this.tap) {
      this.tap.entry(entry);
      this.tapLeft = entry.size;
      if (entry.size === 0) this.tap.endEntry();
    }
    if (this.pending.used) this.pending = { used: false, pax: new Map() };
    this.remaining = paddedSize(entry.size);
    this.state = this.remaining === 0 ? 'header' : verdict === 'pass' ? 'data' : 'skip';
  }

  private feedTap(b: Buffer): void {
    this.tap!.data(b);
    this.tapLeft -= b.length;
    if (this.tapLeft === 0) this.tap!.endEntry();
  }

  private startMeta(h: RawHeader): void {
    const cap = h.typeflag === 'L' || h.typeflag === 'K' ? ExtractCaps.nameLength + BLOCK : ExtractCaps.paxHeader;
    if (h.size > cap) throw new FerryError('FILE_TOO_LARGE', `${this.what}: a tar extended header of ${h.size} bytes is over the ${cap}-byte cap; rebuild the image`);
    const padded = paddedSize(h.size);
    this.meta = { kind: h.typeflag, data: Buffer.alloc(padded), fill: 0, size: h.size };
    this.state = 'meta';
    if (padded === 0) this.endMeta();
  }

  private fillMeta(chunk: Buffer, off: number): number {
    const m = this.meta!;
    const n = Math.min(m.data.length - m.fill, chunk.length - off);
    chunk.copy(m.data, m.fill, off, off + n);
    m.fill += n;
    if (m.fill === m.data.length) this.endMeta();
    return off + n;
  }

  private endMeta(): void {
    const m = this.meta!;
    this.meta = undefined;
    this.state = 'header';
    const body = m.data.subarray(0, m.size);
    if (m.kind === 'g') {
      // GNU tar applies a global header's records to every later entry; ferry drops global
      // headers, so one that says more than a comment (git archive's commit id) is refused.
      for (const k of parsePaxRecords(body, this.what).keys()) {
        if (k !== 'comment') throw corruptArchive(this.what, `a global pax header sets ${JSON.stringify(k)} for every later entry (ferry accepts only a comment there)`);
      }
      return;
    }
    // GNU tar keeps only the last extended header of a kind (a second pax header replaces the
    // first), so merging them here would check a different name than the one tar writes.
    const seen = m.kind === 'x' ? this.pending.sawPax : m.kind === 'L' ? this.pending.longName !== undefined : this.pending.longLink !== undefined;
    if (seen) throw corruptArchive(this.what, `two "${m.kind}" extended headers precede one entry`);
    this.pending.used = true;
    if (m.kind === 'x') {
      this.pending.sawPax = true;
      for (const [k, v] of parsePaxRecords(body, this.what)) this.pending.pax.set(k, v);
      return;
    }
    const nul = body.indexOf(0);
    const text = body.toString('latin1', 0, nul === -1 ? body.length : nul);
    if (nul !== -1 && body.subarray(nul).some((b) => b !== 0)) throw unsafePath(this.what, text, 'has a GNU long name containing a NUL byte');
    if (m.kind === 'L') this.pending.longName = text;
    else this.pending.longLink = text;
  }

  /** Apply pending pax / GNU records to a header, refusing anything ambiguous. */
  private resolveEntry(h: RawHeader, typeKind: EntryKind): TarEntry {
    const { pax, longName, longLink } = this.pending;
    for (const k of pax.keys()) {
      if (k.startsWith('GNU.sparse.')) throw corruptArchive(this.what, `entry ${JSON.stringify(h.name)} is a sparse file (pax ${k}); rebuild the image without --sparse`);
    }
    // Two spellings of one name that two parsers could read differently are refused.
    if (pax.has('path') && longName !== undefined) throw corruptArchive(this.what, `entry ${JSON.stringify(h.name)} has both a pax path and a GNU long name`);
    if (pax.has('linkpath') && longLink !== undefined) throw corruptArchive(this.what, `entry ${JSON.stringify(h.name)} has both a pax linkpath and a GNU long link`);
    const name = pax.get('path') ?? longName ?? h.name;
    const linkRaw = pax.get('linkpath') ?? longLink ?? h.linkname;
    const size = pax.has('size') ? paxNumber(pax.get('size')!, 'size', this.what) : h.size;
    const uid = pax.has('uid') ? paxNumber(pax.get('uid')!, 'uid', this.what) : h.uid;
    const gid = pax.has('gid') ? paxNumber(pax.get('gid')!, 'gid', this.what) : h.gid;
    // GNU tar refuses ids beyond uid_t/gid_t (32 bits); ferry must not accept what tar then fails on.
    if (uid > MAX_ID || gid > MAX_ID) throw corruptArchive(this.what, `entry ${JSON.stringify(h.name)} has an owner id above ${MAX_ID}`);
    // GNU tar extracts a regular-file entry named "x/" as a directory (old tars marked them so).
    const kind: EntryKind = typeKind === 'file' && name.endsWith('/') ? 'dir' : typeKind;
    if (isHeaderOnly(kind) && size !== 0) throw corruptArchive(this.what, `entry ${JSON.stringify(name)} of type ${kind} claims ${size} bytes of data`);
    const path = normalizeEntryPath(name, this.what);
    let link = '';
    if (kind === 'hardlink') {
      link = normalizeEntryPath(linkRaw, this.what);
      if (link === '') throw unsafePath(this.what, name, 'is a hardlink to the root directory');
    } else if (kind === 'symlink') {
      if (linkRaw.includes('\0')) throw unsafePath(this.what, name, 'is a symlink whose target contains a NUL byte');
      if (linkRaw.length > ExtractCaps.nameLength) throw new FerryError('FILE_TOO_LARGE', `${this.what}: a symlink target is over the ${ExtractCaps.nameLength}-byte cap`);
      link = linkRaw;
    }
    if ((kind === 'char' || kind === 'block') && h.format === 'v7') throw corruptArchive(this.what, `entry ${JSON.stringify(name)} is a device node in a pre-POSIX header (it has no device number fields)`);
    return { path, kind, link, size, uid, gid, mode: h.mode & 0o7777, mtime: this.mtimeOf(h, pax), devmajor: h.devmajor, devminor: h.devminor, xattrs: xattrsOf(pax) };
  }

  /** The pax mtime (decimal seconds with an optional fraction, as GNU tar writes it) or the header's. */
  private mtimeOf(h: RawHeader, pax: Map<string, string>): string {
    const v = pax.get('mtime');
    if (v === undefined) return String(h.mtime);
    if (!/^-?[0-9]{1,12}(\.[0-9]{1,20})?$/.test(v)) throw corruptArchive(this.what, `pax mtime ${JSON.stringify(v.slice(0, 32))} is not a decimal time`);
    return v;
  }
}

/** The entry's xattrs from its SCHILY.xattr.* records, in order; every other pax key is dropped here. */
function xattrsOf(pax: Map<string, string>): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const [k, v] of pax) if (k.startsWith(XATTR_PREFIX) && k.length > XATTR_PREFIX.length) out.push([k.slice(XATTR_PREFIX.length), v]);
  return out;
}
