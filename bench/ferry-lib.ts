/**
 * Child process that runs one ferry library operation, for rows whose CLI command
 * does not exist yet (or, for apply, to measure the dir-slot write alone):
 *   ferry-lib.js export IMAGE MEDIA TARGET VERSION   exportImage
 *   ferry-lib.js verify MEDIA                        verifyMediaBlobs (fails on any problem)
 *   ferry-lib.js apply-dir LAYOUT REF ROOT           applyImageToDir: digest + diff_id checks,
 *                                                    path sanitiser, GNU tar — what `ferry device
 *                                                    apply` runs for a dir slot, minus signature and
 *                                                    bootloader steps (measured in their own rows)
 *   ferry-lib.js apply-block LAYOUT REF DEVICE STATEDIR  the block slot's write: mkfs.ext4, mount,
 *                                                    applyImageToDir, syncfs, umount
 *   ferry-lib.js chunk-index LAYOUT REF OUT          write the image's chunk index to OUT (untimed prepare)
 *   ferry-lib.js apply-dir-verified LAYOUT REF ROOT INDEX  apply-dir with verified streaming: every
 *                                                    4 MiB chunk checked against INDEX before it is
 *                                                    decompressed (what `ferry device apply` does now)
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { ChunkHasher, CHUNK_INDEX_SCHEMA, chunksOf, DEFAULT_CHUNK_SIZE, parseChunkIndex, serializeChunkIndex } from '../src/oci/chunk-index.js';
import { readChunkVerified } from '../src/oci/chunk-reader.js';
import { applyImageToDir } from '../src/device/extract/apply.js';
import { exportImage } from '../src/media/export.js';
import { reportError, verifyMediaBlobs } from '../src/media/verify.js';
import { createSlot } from '../src/device/slots/registry.js';
import { OciLayout } from '../src/oci/layout.js';
import { applyRuntimeFlags } from '../src/node-flags.js';
import { noProgress } from '../src/progress.js';

const [op, ...args] = process.argv.slice(2);

async function openImage(layoutDir: string, ref: string) {
  const layout = await OciLayout.open(layoutDir);
  return { layout, image: await layout.resolveImage(await layout.findRef(ref), { os: 'linux', architecture: 'amd64' }, ref) };
}

async function applyDir(layoutDir: string, ref: string, root: string): Promise<unknown> {
  const { layout, image } = await openImage(layoutDir, ref);
  await mkdir(root, { recursive: true });
  return applyImageToDir({ layout, image, ref, root, progress: noProgress });
}

async function chunkIndex(layoutDir: string, ref: string, out: string): Promise<unknown> {
  const { layout, image } = await openImage(layoutDir, ref);
  const blobs: Record<string, string[]> = {};
  for (const l of image.manifest.layers) {
    const h = new ChunkHasher(DEFAULT_CHUNK_SIZE);
    for await (const c of layout.openBlob(l)) h.update(c as Buffer);
    blobs[l.digest] = h.finish();
  }
  await writeFile(out, serializeChunkIndex({ schema: CHUNK_INDEX_SCHEMA, chunkSize: DEFAULT_CHUNK_SIZE, blobs }));
  return { layers: image.manifest.layers.length };
}

async function applyDirVerified(layoutDir: string, ref: string, root: string, indexFile: string): Promise<unknown> {
  const { layout, image } = await openImage(layoutDir, ref);
  const index = parseChunkIndex(JSON.parse(await readFile(indexFile, 'utf8')));
  await mkdir(root, { recursive: true });
  const openBlob = (d: (typeof image.manifest.layers)[number], what: string) => readChunkVerified(() => layout.blobRange(d.digest), d, chunksOf(index, d, what), index.chunkSize, what);
  return applyImageToDir({ layout, image, ref, root, progress: noProgress, openBlob, limits: { reserveBytes: 16 * 1024 * 1024 } });
}

async function applyBlock(layoutDir: string, ref: string, device: string, stateDir: string): Promise<unknown> {
  const { layout, image } = await openImage(layoutDir, ref);
  const slot = createSlot('B', { type: 'block', device, fsType: 'ext4' }, { stateDir });
  return slot.write({ layout, image, ref, progress: noProgress });
}

async function verify(media: string): Promise<unknown> {
  const report = await verifyMediaBlobs(media);
  const err = reportError(report);
  if (err) throw err;
  return { blobsChecked: report.blobsChecked, bytesChecked: report.bytesChecked };
}

async function main(): Promise<unknown> {
  // as the ferry command does once its modules are loaded (src/node-flags.ts)
  applyRuntimeFlags();
  const [a, b, c, d] = args;
  if (op === 'export' && a && b && c && d) return exportImage({ image: a, mediaRoot: b, target: c, version: d });
  if (op === 'verify' && a) return verify(a);
  if (op === 'apply-dir' && a && b && c) return applyDir(a, b, c);
  if (op === 'apply-block' && a && b && c && d) return applyBlock(a, b, c, d);
  if (op === 'chunk-index' && a && b && c) return chunkIndex(a, b, c);
  if (op === 'apply-dir-verified' && a && b && c && d) return applyDirVerified(a, b, c, d);
  process.stderr.write('usage: ferry-lib.js export IMAGE MEDIA TARGET VERSION | verify MEDIA | apply-dir LAYOUT REF ROOT | apply-block LAYOUT REF DEVICE STATEDIR | chunk-index LAYOUT REF OUT | apply-dir-verified LAYOUT REF ROOT INDEX\n');
  process.exit(2);
}

try {
  process.stdout.write(`${JSON.stringify(await main())}\n`);
} catch (e) {
  process.stderr.write(`ferry-lib ${op}: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
}
