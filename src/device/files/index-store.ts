/**
 * File indexes on disk: gzip-compressed (node:zlib), one entry per line
 * (file-index.ts). Written crash-safely (temp name, fsync, rename, fsync dir) and read
 * back as a stream with caps on the compressed size, the line length and the entry count.
 * The device keeps one per slot: `<stateDir>/files/<slot>.json.gz`.
 */
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { createGzip } from 'node:zlib';
import { FerryError } from '../../errors.js';
import { fsyncDir, readFileCapped, syncRenamed, tempNameFor, writeFileAtomic } from '../../util/fsx.js';
import type { SlotName } from '../types.js';
import { entryLine, type FileEntry, type FileIndex, INDEX_END_LINE, indexHeaderLine } from './file-index.js';
import { type IndexSource, IndexStream } from './index-reader.js';

/** Compressed bytes a stored index may have (~40 bytes per entry compressed at the entry cap is far below). */
export const FILE_INDEX_FILE_CAP = 256 * 1024 * 1024;

/** Where the device keeps the index of a slot. */
export function slotIndexPath(stateDir: string, slot: SlotName): string {
  return path.join(stateDir, 'files', `${slot}.json.gz`);
}

/** An index in memory, or one streamed from its blob (index-reader.ts). */
export type AnyIndex = FileIndex | IndexSource;

/** The serialised lines of an index, produced lazily (never one string of the whole index; a streamed index is pulled as it is written). */
export async function* indexLines(index: AnyIndex): AsyncGenerator<string> {
  yield `${indexHeaderLine(index.image)}\n`;
  // each line but the last ends with a comma: a line goes out once the next entry is known
  let prev: string | undefined;
  for await (const e of 'entries' in index ? index.entries : index.open()) {
    if (prev !== undefined) yield `${prev},\n`;
    prev = entryLine(e);
  }
  if (prev !== undefined) yield `${prev}\n`;
  yield `${INDEX_END_LINE}\n`;
}

/** Characters of index lines handed to gzip at once. */
const GZIP_BATCH = 256 * 1024;

/** The lines joined into strings of about GZIP_BATCH characters. */
async function* batched(lines: AsyncIterable<string>): AsyncGenerator<string> {
  let parts: string[] = [];
  let n = 0;
  for await (const l of lines) {
    parts.push(l);
    n += l.length;
    if (n >= GZIP_BATCH) {
      yield parts.join('');
      parts = [];
      n = 0;
    }
  }
  if (parts.length > 0) yield parts.join('');
}

/**
 * The gzip-compressed bytes of an index as a stream. Lines go to gzip in batches: one write
 * per ~200-byte line was one thread-pool round trip each (20,000 for a 1 GiB image: most of
 * the 0.6 s of CPU that writing a slot's index took). The bytes are the same (deflate does
 * not depend on how its input is split).
 */
export function gzipIndex(index: AnyIndex): Readable {
  const src = Readable.from(batched(indexLines(index)));
  const gz = createGzip({ level: 6, chunkSize: 64 * 1024 });
  // pipe() does not pass errors on: a streamed index that fails its digest must fail the reader of gz
  src.on('error', (e) => gz.destroy(e));
  return src.pipe(gz);
}

/** Write `index` to `file` atomically: temp, fsync, rename, fsync dir. Returns the compressed size. */
export async function writeIndexFile(file: string, index: AnyIndex): Promise<number> {
  await fsp.mkdir(path.dirname(file), { recursive: true });
  const tmp = tempNameFor(file);
  const fh = await fsp.open(tmp, 'wx', 0o644);
  try {
    for await (const chunk of gzipIndex(index)) await fh.write(chunk as Buffer);
    await fh.sync();
    const { size } = await fh.stat();
    await fh.close();
    await fsp.rename(tmp, file);
    await syncRenamed(file);
    return size;
  } catch (e) {
    await fh.close().catch(() => undefined);
    await fsp.rm(tmp, { force: true });
    throw new FerryError('IO_ERROR', `cannot write the file index ${file}: ${(e as Error).message}`, { cause: e });
  }
}

/** Remove a slot's index and its layer list (the slot is about to be rewritten); missing ones are fine. */
export async function removeIndexFile(file: string): Promise<void> {
  await fsp.rm(file, { force: true });
  await fsp.rm(layersPathFor(file), { force: true });
  await fsyncDir(path.dirname(file)).catch(() => undefined);
}

/**
 * The layers (diff_ids, in order) of the image a slot holds, kept next to its index: an
 * incremental write needs not read the layers it shares with that image (device/reuse.ts).
 */
export interface SlotLayers {
  image: string;
  diffIds: string[];
}

const LAYERS_CAP = 64 * 1024;

function layersPathFor(indexFile: string): string {
  return indexFile.replace(/\.json\.gz$/, '.layers.json');
}

/** Record the layers of the image a slot holds (atomically; written before the index itself). */
export async function writeSlotLayers(indexFile: string, layers: SlotLayers): Promise<void> {
  await fsp.mkdir(path.dirname(indexFile), { recursive: true });
  await writeFileAtomic(layersPathFor(indexFile), `${JSON.stringify(layers)}\n`);
}

/** The recorded layers of a slot's image; undefined when missing or malformed (then no layer is skipped). */
export async function readSlotLayers(indexFile: string): Promise<SlotLayers | undefined> {
  const raw = await readFileCapped(layersPathFor(indexFile), LAYERS_CAP, 'slot layer list').catch(() => undefined);
  if (raw === undefined) return undefined;
  try {
    const v = JSON.parse(raw.toString('utf8')) as Partial<SlotLayers>;
    const ok = typeof v.image === 'string' && Array.isArray(v.diffIds) && v.diffIds.every((d) => typeof d === 'string' && /^sha256:[0-9a-f]{64}$/.test(d));
    return ok ? { image: v.image!, diffIds: v.diffIds! } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Read a gzip-compressed index stream, calling `onEntry` for each entry in path order;
 * returns the image digest it describes. CORRUPT_FILE_INDEX on anything malformed.
 * (index-reader.ts's IndexStream, pulled to its end.)
 */
export async function readIndexStream(gz: Readable, what: string, onEntry: (e: FileEntry) => void): Promise<string> {
  const s = new IndexStream(gz, what);
  try {
    const image = await s.image();
    for (let e = await s.read(); e !== undefined; e = await s.read()) onEntry(e);
    return image;
  } finally {
    s.close();
  }
}

/** Read a stored index file whole into memory (entries are small; capped by FILE_INDEX_MAX_ENTRIES). */
export async function readIndexFile(file: string, what: string): Promise<FileIndex | undefined> {
  let st: fs.Stats;
  try {
    st = await fsp.stat(file);
  } catch {
    return undefined;
  }
  if (st.size > FILE_INDEX_FILE_CAP) throw new FerryError('CORRUPT_FILE_INDEX', `${what}: ${st.size} bytes is over the ${FILE_INDEX_FILE_CAP}-byte cap`);
  const entries: FileEntry[] = [];
  const stream = fs.createReadStream(file);
  await once(stream, 'open');
  const image = await readIndexStream(stream, what, (e) => entries.push(e));
  return { image, entries };
}
