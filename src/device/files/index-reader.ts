/**
 * A file index read lazily, one decompressed chunk at a time: the caller pulls entries in
 * path order and the stream advances only as fast as it pulls (a 64 KiB gzip chunk holds a
 * few hundred entries). Comparing two indexes, or an index with a walk, as a merge of such
 * streams keeps memory at a window of entries instead of the whole index (issue 14: peak
 * memory must not grow with the image). Same format, caps and checks as readIndexStream.
 */
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { createGunzip } from 'node:zlib';
import { FerryError } from '../../errors.js';
import { type FileEntry, FILE_INDEX_MAX_LINE, IndexLineParser } from './file-index.js';
import { FILE_INDEX_FILE_CAP } from './index-store.js';

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
