/**
 * A file index read lazily, one decompressed chunk at a time: the caller pulls entries in
 * path order and the stream advances only as fast as it pulls (a 64 KiB gzip chunk holds a
 * few hundred entries). Comparing two indexes, or an index with a walk, as a merge of such
 * streams keeps memory at a window of entries instead of the whole index (issue 14: peak
 * memory must not grow with the image). readIndexStream (index-store.ts) is this stream pulled to its end.
 */
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { StringDecoder } from 'node:string_decoder';
import { createGunzip } from 'node:zlib';
import { FerryError } from '../../errors.js';
import { type FileEntry, FILE_INDEX_MAX_LINE, IndexLineParser } from './file-index.js';
import { FILE_INDEX_FILE_CAP } from './index-store.js';
import { tempNameFor } from '../../util/fsx.js';

/** Entries in path order, pulled one at a time. */
export interface EntrySource {
  /** The next entry; undefined once the (checked) end is reached. */
  read(): Promise<FileEntry | undefined>;
  /** Stop early: release the stream (safe to call twice, and after the end). */
  close(): void;
}

/** A file index read (again) as a stream whenever it is needed, instead of being held in memory. */
export interface IndexSource {
  image: string;
  open(): IndexStream;
  /** Remove the local copy the source reads (copySignedIndex); absent for indexes the device keeps. */
  dispose?(): Promise<void>;
}

/**
 * Copy a blob from the stick (`open`: OciLayout.openBlob, whose stream fails on a size or digest
 * mismatch) into `dir` under a `.ferry-tmp-` name; the copy's path once every byte matched. A
 * signed file index is parsed only from such a copy: checked whole before a byte of it is parsed,
 * and never read from the stick again, so a stick that answers a second read differently gains
 * nothing. A copy left by a crash is removed with the folder's other temporary files.
 */
async function checkedCopy(dir: string, open: () => Readable): Promise<string> {
  const file = tempNameFor(path.join(dir, 'signed-file-index.gz'));
  try {
    await pipeline(open(), fs.createWriteStream(file, { flags: 'wx', mode: 0o600 }));
  } catch (e) {
    await fsp.rm(file, { force: true });
    throw e;
  }
  return file;
}

/** An update's signed file index as a source read as often as needed, from a checked copy in `dir` (the device's state directory); `dispose()` removes the copy. */
export async function copySignedIndex(dir: string, image: string, open: () => Readable, what: string): Promise<IndexSource & { dispose(): Promise<void> }> {
  const file = await checkedCopy(dir, open);
  return {
    image,
    open: () => new IndexStream(fs.createReadStream(file, { highWaterMark: 64 * 1024 }), what),
    dispose: () => fsp.rm(file, { force: true }),
  };
}

/** A signed file index read once, from a checked copy in `dir`: the copy is unlinked as soon as it is open (the stream's descriptor keeps it readable until closed). */
export async function openSignedIndex(dir: string, open: () => Readable, what: string): Promise<IndexStream> {
  const file = await checkedCopy(dir, open);
  try {
    const fh = await fsp.open(file, 'r');
    return new IndexStream(fh.createReadStream({ highWaterMark: 64 * 1024 }), what);
  } finally {
    await fsp.rm(file, { force: true });
  }
}

/** A gzip-compressed index stream, parsed as it is pulled. */
export class IndexStream implements EntrySource, AsyncIterable<FileEntry> {
  private readonly parser: IndexLineParser;
  private readonly decoder = new StringDecoder('utf8');
  private readonly gunzip = createGunzip({ chunkSize: 64 * 1024 });
  private readonly chunks: AsyncIterator<Buffer>;
  private batch: FileEntry[] = [];
  private pos = 0;
  private rest = '';
  private ended = false;

  constructor(
    private readonly gz: Readable,
    private readonly what: string,
  ) {
    this.parser = new IndexLineParser(what, (e) => this.batch.push(e));
    gz.on('error', (e) => this.gunzip.destroy(e));
    gz.pipe(this.gunzip);
    this.chunks = this.gunzip[Symbol.asyncIterator]();
  }

  /** The image the index describes (reads up to its header line). */
  async image(): Promise<string> {
    while (this.parser.image === undefined) if (!(await this.fill())) break;
    if (this.parser.image === undefined) this.parser.end(); // throws: truncated
    return this.parser.image!;
  }

  async read(): Promise<FileEntry | undefined> {
    while (this.pos >= this.batch.length) if (!(await this.fill())) return undefined;
    return this.batch[this.pos++];
  }

  close(): void {
    this.gz.unpipe(this.gunzip);
    this.gz.destroy();
    this.gunzip.destroy();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<FileEntry> {
    try {
      for (let e = await this.read(); e !== undefined; e = await this.read()) yield e;
    } finally {
      this.close();
    }
  }

  /** Parse the next chunk into `batch`; false at the end (after checking the index was complete). */
  private async fill(): Promise<boolean> {
    this.batch = [];
    this.pos = 0;
    if (this.ended) return false;
    let r: IteratorResult<Buffer>;
    try {
      r = await this.chunks.next();
    } catch (e) {
      if (e instanceof FerryError) throw e;
      throw new FerryError('CORRUPT_FILE_INDEX', `${this.what}: cannot decompress it (${(e as Error).message}); the file index is damaged: reinstall the slot or re-export the media`, { cause: e });
    }
    if (r.done) {
      this.ended = true;
      if (this.rest !== '') throw new FerryError('CORRUPT_FILE_INDEX', `${this.what}: it does not end with a newline; the file index is damaged`);
      this.parser.end();
      return false;
    }
    this.rest += this.decoder.write(r.value);
    let start = 0;
    let nl: number;
    while ((nl = this.rest.indexOf('\n', start)) !== -1) {
      this.parser.line(this.rest.slice(start, nl));
      start = nl + 1;
    }
    this.rest = this.rest.slice(start);
    if (this.rest.length > FILE_INDEX_MAX_LINE) this.parser.line(this.rest);
    return true;
  }
}

/** A stored index file as a stream; undefined when there is none. */
export async function openIndexFile(file: string, what: string): Promise<IndexStream | undefined> {
  const st = await fsp.stat(file).catch(() => undefined);
  if (st === undefined) return undefined;
  if (st.size > FILE_INDEX_FILE_CAP) throw new FerryError('CORRUPT_FILE_INDEX', `${what}: ${st.size} bytes is over the ${FILE_INDEX_FILE_CAP}-byte cap`);
  const stream = fs.createReadStream(file, { highWaterMark: 64 * 1024 });
  return new IndexStream(stream, what);
}

/** An index already in memory as an EntrySource (tests, and the index a write just recorded). */
export function entrySource(entries: readonly FileEntry[]): EntrySource {
  let i = 0;
  return { read: async () => entries[i++], close: () => undefined };
}
