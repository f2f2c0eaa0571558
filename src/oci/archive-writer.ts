/**
 * A small streaming tar writer for ferry's own archives (oci-archive form of a layout).
 * Names are short ASCII paths ferry chose itself, so ustar + a pax `path` record is
 * enough. The tar is written to a temp name, fsynced and renamed: never half a file.
 * Each member can carry the digest it must have; it is checked while it is copied.
 */
import { createHash } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { FerryError, toFerryError } from '../errors.js';
import type { ProgressFn } from '../progress.js';
import { openRegular, syncRenamed, tempNameFor } from '../util/fsx.js';
import { TAR_END, tarHeader, tarPadding } from './tar.js';
import { digestHex } from './types.js';

/** One member to write: a directory, or a file copied from `source`. */
export interface ArchiveMember {
  name: string;
  type: 'file' | 'directory';
  /** File to copy (type file). */
  source?: string;
  /** Bytes to write instead of a source file (small files). */
  bytes?: Buffer;
  /** When set, the copied bytes must hash to this sha256 digest. */
  digest?: string;
}

const CHUNK = 4 * 1024 * 1024;

async function copyInto(out: fsp.FileHandle, m: ArchiveMember, buf: Buffer, progress: (n: number) => void): Promise<number> {
  if (m.bytes) {
    await out.write(tarHeader({ name: m.name, type: 'file', size: m.bytes.length }));
    await out.write(m.bytes);
    await out.write(tarPadding(m.bytes.length));
    return m.bytes.length;
  }
  // a FIFO or device in the media folder being archived must fail, not hang the open
  const { fh: src, size } = await openRegular(m.source!, m.name, { media: true });
  try {
    await out.write(tarHeader({ name: m.name, type: 'file', size }));
    const hash = m.digest ? createHash('sha256') : undefined;
    let done = 0;
    while (done < size) {
      const { bytesRead } = await src.read(buf, 0, Math.min(buf.length, size - done), done);
      if (bytesRead === 0) throw new FerryError('IO_ERROR', `${m.source} shrank while being archived`);
      hash?.update(buf.subarray(0, bytesRead));
      await out.write(buf, 0, bytesRead);
      done += bytesRead;
      progress(bytesRead);
    }
    if (hash && hash.digest('hex') !== digestHex(m.digest!)) {
      throw new FerryError('DIGEST_MISMATCH', `${m.source}: content does not match its digest ${m.digest}: the media is damaged; run ferry verify and re-export`, { details: { digest: m.digest } });
    }
    await out.write(tarPadding(size));
    return size;
  } finally {
    await src.close();
  }
}

/** Write `members` as a tar at `outFile` atomically; returns the tar's size. */
export async function writeTarAtomic(outFile: string, members: ArchiveMember[], progress?: ProgressFn, totalBytes = 0): Promise<number> {
  const tmp = tempNameFor(outFile);
  const out = await fsp.open(tmp, 'wx', 0o644);
  const buf = Buffer.allocUnsafe(CHUNK);
  let done = 0;
  let lastReport = 0;
  try {
    for (const m of members) {
      if (m.type === 'directory') await out.write(tarHeader({ name: m.name, type: 'directory', size: 0 }));
      else
        await copyInto(out, m, buf, (n) => {
          done += n;
          if (progress && done - lastReport >= 16 * 1024 * 1024) {
            lastReport = done;
            progress({ step: 'archive', bytesDone: done, bytesTotal: totalBytes, detail: m.name });
          }
        });
    }
    await out.write(TAR_END);
    await out.sync();
    await out.close();
  } catch (e) {
    await out.close().catch(() => undefined);
    await fsp.rm(tmp, { force: true });
    throw toFerryError(e, `archive ${outFile}`);
  }
  await fsp.rename(tmp, outFile);
  await syncRenamed(outFile);
  return (await fsp.stat(outFile)).size;
}

/** Members for an OCI layout directory at the tar root: oci-layout, index.json, blobs/sha256/* (digest-checked). */
export async function layoutMembers(layoutDir: string, prefix = ''): Promise<ArchiveMember[]> {
  const members: ArchiveMember[] = [
    { name: `${prefix}oci-layout`, type: 'file', source: path.join(layoutDir, 'oci-layout') },
    { name: `${prefix}index.json`, type: 'file', source: path.join(layoutDir, 'index.json') },
    { name: `${prefix}blobs`, type: 'directory' },
    { name: `${prefix}blobs/sha256`, type: 'directory' },
  ];
  const names = (await fsp.readdir(path.join(layoutDir, 'blobs', 'sha256'))).filter((n) => /^[a-f0-9]{64}$/.test(n)).sort();
  for (const n of names) members.push({ name: `${prefix}blobs/sha256/${n}`, type: 'file', source: path.join(layoutDir, 'blobs', 'sha256', n), digest: `sha256:${n}` });
  return members;
}
