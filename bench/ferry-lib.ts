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
 */
import { mkdir } from 'node:fs/promises';
import { applyImageToDir } from '../src/device/extract/apply.js';
import { exportImage } from '../src/media/export.js';
import { reportError, verifyMediaBlobs } from '../src/media/verify.js';
import { createSlot } from '../src/device/slots/registry.js';
import { OciLayout } from '../src/oci/layout.js';
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
  const [a, b, c, d] = args;
  if (op === 'export' && a && b && c && d) return exportImage({ image: a, mediaRoot: b, target: c, version: d });
  if (op === 'verify' && a) return verify(a);
  if (op === 'apply-dir' && a && b && c) return applyDir(a, b, c);
  if (op === 'apply-block' && a && b && c && d) return applyBlock(a, b, c, d);
  process.stderr.write('usage: ferry-lib.js export IMAGE MEDIA TARGET VERSION | verify MEDIA | apply-dir LAYOUT REF ROOT | apply-block LAYOUT REF DEVICE STATEDIR\n');
  process.exit(2);
}

try {
  process.stdout.write(`${JSON.stringify(await main())}\n`);
} catch (e) {
  process.stderr.write(`ferry-lib ${op}: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
}
