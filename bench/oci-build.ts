/**
 * Build an OCI image layout from a root filesystem tree, one gzip layer per group of
 * top-level directories (rootfs.ts LAYERS), reproducibly: GNU tar with sorted names,
 * fixed mtime and numeric root ownership, so unchanged layers keep their digest across
 * versions. The result is then turned into an oci-archive by skopeo (the real tool).
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream, existsSync, lstatSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { LAYERS } from './rootfs.js';
import { runChecked } from './proc.js';

/** A blob written into the layout. */
export interface BuiltBlob {
  digest: string;
  size: number;
  mediaType: string;
}

/** The image that `buildImage` added to the layout. */
export interface BuiltImage {
  ref: string;
  manifest: BuiltBlob;
  layers: BuiltBlob[];
  /** Sum of config + layer sizes (what an export copies). */
  payloadBytes: number;
}

const LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';

/** Add `rootfs` as image `ref` to the OCI layout at `layoutDir` (created if needed). */
export async function buildImage(rootfs: string, layoutDir: string, ref: string): Promise<BuiltImage> {
  await mkdir(join(layoutDir, 'blobs', 'sha256'), { recursive: true });
  await writeFile(join(layoutDir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const groups = LAYERS.map((l) => l.paths.filter((p) => lstatSync(join(rootfs, p), { throwIfNoEntry: false }) !== undefined)).filter((p) => p.length > 0);
  // layers compress in parallel: zlib runs on the libuv thread pool
  const built = await Promise.all(groups.map((paths, i) => writeLayer(rootfs, layoutDir, paths, i)));
  const config = {
    architecture: 'amd64',
    os: 'linux',
    created: '2026-01-01T00:00:00Z',
    config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin'] },
    rootfs: { type: 'layers', diff_ids: built.map((b) => b.diffId) },
    history: built.map(() => ({ created: '2026-01-01T00:00:00Z', created_by: 'ferry bench generator' })),
  };
  const configBlob = await writeJsonBlob(layoutDir, config, 'application/vnd.oci.image.config.v1+json');
  const layers = built.map((b) => b.blob);
  const manifest = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: configBlob,
    layers,
    annotations: { 'org.opencontainers.image.version': ref },
  };
  const manifestBlob = await writeJsonBlob(layoutDir, manifest, manifest.mediaType);
  await addToIndex(layoutDir, ref, manifestBlob);
  return { ref, manifest: manifestBlob, layers, payloadBytes: configBlob.size + layers.reduce((s, l) => s + l.size, 0) };
}

/** Copy image `ref` of a layout into an oci-archive file with skopeo. */
export async function layoutToArchive(layoutDir: string, ref: string, archive: string): Promise<void> {
  await runChecked('skopeo', ['copy', '--quiet', `oci:${layoutDir}:${ref}`, `oci-archive:${archive}:${ref}`]);
}

async function writeLayer(rootfs: string, layoutDir: string, paths: string[], index: number): Promise<{ blob: BuiltBlob; diffId: string }> {
  const tar = spawn('tar', [
    '--sort=name', '--format=pax', '--pax-option=delete=atime,delete=ctime', '--mtime=@1767225600',
    '--owner=0', '--group=0', '--numeric-owner', '-C', rootfs, '-cf', '-', ...paths,
  ], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<number>((resolve) => tar.on('close', (code) => resolve(code ?? 1)));
  const diff = createHash('sha256');
  const comp = createHash('sha256');
  let size = 0;
  const tmp = join(layoutDir, 'blobs', 'sha256', `.layer-${index}-${process.pid}.tmp`);
  await pipeline(
    tar.stdout,
    tap((b) => diff.update(b)),
    createGzip({ level: 6 }),
    tap((b) => { comp.update(b); size += b.length; }),
    createWriteStream(tmp),
  );
  if ((await exited) !== 0) throw new Error(`tar failed while packing layer ${paths.join(',')}`);
  const hex = comp.digest('hex');
  await rename(tmp, join(layoutDir, 'blobs', 'sha256', hex));
  return { blob: { mediaType: LAYER_GZIP, digest: `sha256:${hex}`, size }, diffId: `sha256:${diff.digest('hex')}` };
}

function tap(fn: (b: Buffer) => void): Transform {
  return new Transform({ transform(chunk: Buffer, _enc, cb) { fn(chunk); cb(null, chunk); } });
}

async function writeJsonBlob(layoutDir: string, value: unknown, mediaType: string): Promise<BuiltBlob> {
  const bytes = Buffer.from(JSON.stringify(value));
  const hex = createHash('sha256').update(bytes).digest('hex');
  await writeFile(join(layoutDir, 'blobs', 'sha256', hex), bytes);
  return { mediaType, digest: `sha256:${hex}`, size: bytes.length };
}

async function addToIndex(layoutDir: string, ref: string, manifest: BuiltBlob): Promise<void> {
  const path = join(layoutDir, 'index.json');
  const index = existsSync(path)
    ? (JSON.parse(await readFile(path, 'utf8')) as { manifests: { annotations?: Record<string, string> }[] })
    : { schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [] };
  index.manifests = index.manifests.filter((m) => m.annotations?.['org.opencontainers.image.ref.name'] !== ref);
  index.manifests.push({ ...manifest, annotations: { 'org.opencontainers.image.ref.name': ref } });
  await writeFile(path, JSON.stringify(index));
}
