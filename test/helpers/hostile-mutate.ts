/**
 * What the "no key" attacker does to a legitimately signed stick: replace any part of
 * FERRY/ with a FIFO, a socket, a device node or a symlink (to a copy of the real thing
 * kept beside the canaries), overwrite bytes inside a chosen chunk of a layer blob, swap
 * files. Everything is done by code on a copy of a signed stick.
 */
import { execFileSync } from 'node:child_process';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { blobPath, CHUNK_SIZE, readImageManifest, readUpdate } from './hostile-stick.js';

/** A part of a stick an attacker can replace. */
export type StickPart = 'FERRY' | 'oci' | 'blobs' | 'oci-layout' | 'index.json' | 'manifest' | 'config' | 'layer' | 'update' | 'signature' | 'crl';

/** What to put in place of a part. */
export type Special = 'fifo' | 'socket' | 'char' | 'symlink';

/** The signed update on a stick that holds exactly one. */
export async function onlyUpdateId(media: string): Promise<string> {
  const names = (await fsp.readdir(path.join(media, 'FERRY', 'updates'))).filter((n) => n.endsWith('.json'));
  if (names.length !== 1) throw new Error(`expected one update on ${media}, found ${names.join(', ')}`);
  return names[0]!.slice(0, -5);
}

/** The path of `part` on the stick (for blobs: of its one update's image). */
export async function partPath(media: string, part: StickPart): Promise<string> {
  const ferry = path.join(media, 'FERRY');
  const oci = path.join(ferry, 'oci');
  switch (part) {
    case 'FERRY':
      return ferry;
    case 'oci':
      return oci;
    case 'blobs':
      return path.join(oci, 'blobs', 'sha256');
    case 'oci-layout':
    case 'index.json':
      return path.join(oci, part);
    case 'crl':
      return path.join(ferry, 'trust', 'crl.pem');
  }
  const id = await onlyUpdateId(media);
  if (part === 'update') return path.join(ferry, 'updates', `${id}.json`);
  if (part === 'signature') return path.join(ferry, 'updates', `${id}.json.p7s`);
  const u = await readUpdate(media, id);
  if (part === 'manifest') return blobPath(media, u.image.manifest.digest);
  const m = await readImageManifest(media, u.image.manifest);
  return blobPath(media, part === 'config' ? m.config.digest : m.layers[m.layers.length - 1]!.digest);
}

/**
 * Put a special file where `part` was. A symlink points at the real thing, moved into
 * `stash` (a canary folder), so only its being a link is wrong. Returns the path.
 */
export async function replaceWithSpecial(media: string, part: StickPart, kind: Special, stash: string): Promise<string> {
  const p = await partPath(media, part);
  if (kind === 'symlink') {
    const moved = path.join(stash, `moved-${part}`);
    await fsp.rename(p, moved);
    await fsp.symlink(moved, p);
    return p;
  }
  await fsp.rm(p, { recursive: true, force: true });
  if (kind === 'fifo') execFileSync('mkfifo', [p]);
  else if (kind === 'char') execFileSync('mknod', [p, 'c', '1', '3']);
  else execFileSync('python3', ['-c', 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])', p]);
  return p;
}

/** Overwrite bytes of `file` at `offset` (the blob's name stays: its digest no longer matches). */
export async function overwrite(file: string, offset: number, bytes: Buffer): Promise<void> {
  const fh = await fsp.open(file, 'r+');
  try {
    await fh.write(bytes, 0, bytes.length, offset);
  } finally {
    await fh.close();
  }
}

/** Overwrite `marker` into chunk `chunk` of the last layer blob (4096 bytes into the chunk: file data in the corpus's chunky layers); returns the blob path. */
export async function tamperChunk(media: string, chunk: number | 'last', marker: Buffer): Promise<string> {
  const blob = await partPath(media, 'layer');
  const size = (await fsp.stat(blob)).size;
  const chunks = Math.ceil(size / CHUNK_SIZE);
  const k = chunk === 'last' ? chunks - 1 : chunk;
  if (k >= chunks) throw new Error(`layer has ${chunks} chunks, no chunk ${k}`);
  await overwrite(blob, k * CHUNK_SIZE + Math.min(4096, size - k * CHUNK_SIZE - marker.length), marker);
  return blob;
}

/** True when some file below `dir` contains `marker` (GNU grep, binary files as text). */
export function treeContains(dir: string, marker: string): boolean {
  try {
    execFileSync('grep', ['-rlF', '--binary-files=text', '--', marker, dir], { stdio: ['ignore', 'pipe', 'ignore'] });
    return true;
  } catch (e) {
    if ((e as { status?: number }).status === 1) return false;
    throw e;
  }
}

/** Bytes used below `dir` (du, in 1-byte units of allocated blocks). */
export function usedBytes(dir: string): number {
  return Number(execFileSync('du', ['-s', '-B1', '--', dir], { encoding: 'utf8' }).split('\t')[0]);
}
