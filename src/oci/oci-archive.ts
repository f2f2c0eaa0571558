/**
 * oci-archive input read in place: the tar is indexed by its headers (tar.ts) and each
 * file of the layout is read as a byte range of the tar, so nothing is unpacked to temp
 * space and only the chosen image's blobs are ever read.
 *
 * Accepted forms: the layout at the tar root (what `skopeo copy … oci-archive:` writes
 * and what `ferry archive` writes), or under `oci/` or `FERRY/oci/` (a tar of the FERRY/
 * tree or of the stick).
 */
import { Readable } from 'node:stream';
import { FerryError } from '../errors.js';
import { type LayoutBackend, OciLayout } from './layout.js';
import { indexTar, type TarEntry, type TarIndex } from './tar.js';
import { openRegular, streamRegular, unsafeMedia } from '../util/fsx.js';

function enoent(rel: string): NodeJS.ErrnoException {
  const e = new Error(`${rel}: no such member in the archive`) as NodeJS.ErrnoException;
  e.code = 'ENOENT';
  return e;
}

/** Read a member's bytes (regular files only; links are not followed), refusing it over `cap` bytes. */
export async function readMemberCapped(index: TarIndex, e: TarEntry, cap: number, what: string): Promise<Buffer> {
  if (e.size > cap) {
    throw new FerryError('FILE_TOO_LARGE', `${what} in ${index.file} is ${e.size} bytes, over the ${cap}-byte cap: the archive is damaged or not an image`, {
      details: { size: e.size, cap },
    });
  }
  const { fh } = await openRegular(index.file, 'archive', { media: true });
  try {
    const buf = Buffer.alloc(e.size);
    let off = 0;
    while (off < e.size) {
      const { bytesRead } = await fh.read(buf, off, e.size - off, e.offset + off);
      if (bytesRead === 0) throw new FerryError('CORRUPT_ARCHIVE', `${index.file}: ${e.name} is truncated`);
      off += bytesRead;
    }
    return buf;
  } finally {
    await fh.close();
  }
}

/** A stream of one member's bytes, read straight from the tar file. */
export function openMember(file: string, e: TarEntry): Readable {
  if (e.size === 0) return Readable.from([]);
  return streamRegular(file, 'archive', { media: true, start: e.offset, end: e.offset + e.size - 1, highWaterMark: 1024 * 1024 });
}

/** A LayoutBackend over an indexed tar, with the layout under `prefix`. */
export function tarBackend(index: TarIndex, prefix: string): LayoutBackend {
  // a link, device or FIFO member where ferry reads a file is refused like one on a stick
  const find = (rel: string): TarEntry | undefined => {
    const e = index.entries.get(prefix + rel);
    if (e && e.type !== 'file' && e.type !== 'directory') throw unsafeMedia(`${index.file}!${prefix}${rel}`, `is a ${e.type} member, not a file`);
    return e && e.type === 'file' ? e : undefined;
  };
  return {
    async readCapped(rel, cap, what) {
      const e = find(rel);
      if (!e) throw enoent(rel);
      return readMemberCapped(index, e, cap, what);
    },
    open(rel) {
      let e: TarEntry | undefined;
      let err: Error | undefined;
      try {
        e = find(rel);
      } catch (x) {
        err = x as Error;
      }
      if (!e) {
        const s = new Readable({ read() {} });
        process.nextTick(() => s.destroy(err ?? enoent(rel)));
        return s;
      }
      return openMember(index.file, e);
    },
    async size(rel) {
      return find(rel)?.size;
    },
    async range(rel) {
      const e = find(rel);
      return e ? { file: index.file, start: e.offset, size: e.size } : undefined;
    },
  };
}

/** Where the layout sits inside an indexed tar ("", "oci/" or "FERRY/oci/"), or undefined when it holds none. */
export function layoutPrefix(index: TarIndex): string | undefined {
  return ['', 'oci/', 'FERRY/oci/'].find((p) => index.entries.get(`${p}oci-layout`)?.type === 'file');
}

/** Where FERRY/'s other folders (updates/, trust/) sit in an archive whose layout is under `prefix`: beside it ("" or "FERRY/"). */
export function sideFoldersBase(prefix: string): string {
  return prefix.endsWith('oci/') ? prefix.slice(0, -'oci/'.length) : '';
}

/** Open an oci-archive tar as an OciLayout without unpacking it. */
export async function openOciArchive(file: string): Promise<{ layout: OciLayout; index: TarIndex; prefix: string }> {
  let index: TarIndex;
  try {
    // a FIFO or device given as the archive would hang the indexer's open()
    await (await openRegular(file, 'archive', { media: true })).fh.close();
    index = await indexTar(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new FerryError('IMAGE_NOT_FOUND', `${file} does not exist`, { cause: e });
    throw e;
  }
  const prefix = layoutPrefix(index);
  if (prefix === undefined) throw new FerryError('INVALID_LAYOUT', `${file} holds no OCI image layout (no oci-layout at its root or under oci/)`);
  const layout = await OciLayout.open(`${file}${prefix ? `!${prefix}` : ''}`, tarBackend(index, prefix));
  return { layout, index, prefix };
}
