/**
 * Hand-rolled OCI layouts for the bad-input and platform tests: every blob is written
 * raw, so a test can make a digest lie, drop a blob or use an odd media type.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';

export const sha = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

export interface RawBlob {
  bytes: Buffer;
  mediaType: string;
  /** Store under this digest instead of the real one (a lying blob). */
  claimDigest?: string;
  /** Do not write the file (a missing blob). */
  omit?: boolean;
}

/** Write a blob file; returns its descriptor (with the claimed digest when lying). */
export async function putBlob(layout: string, b: RawBlob): Promise<{ mediaType: string; digest: string; size: number }> {
  const digest = b.claimDigest ?? sha(b.bytes);
  await fsp.mkdir(path.join(layout, 'blobs', 'sha256'), { recursive: true });
  if (!b.omit) await fsp.writeFile(path.join(layout, 'blobs', 'sha256', digest.slice(7)), b.bytes);
  return { mediaType: b.mediaType, digest, size: b.bytes.length };
}

/** A tiny uncompressed layer tar made with GNU tar from a few files. */
export function tinyLayerTar(files: Record<string, string>): Buffer {
  const dir = execFileSync('mktemp', ['-d']).toString().trim();
  try {
    for (const [name, content] of Object.entries(files)) {
      execFileSync('mkdir', ['-p', path.dirname(path.join(dir, name))]);
      execFileSync('sh', ['-c', 'cat > "$1"', 'sh', path.join(dir, name)], { input: content });
    }
    return execFileSync('tar', ['--sort=name', '--mtime=@0', '--owner=0', '--group=0', '--numeric-owner', '-C', dir, '-cf', '-', ...Object.keys(files).map((f) => f.split('/')[0]!)], { maxBuffer: 64 << 20 });
  } finally {
    execFileSync('rm', ['-rf', dir]);
  }
}

export interface FixtureImage {
  ref?: string;
  /** Layers as raw blobs; diffIds default to sha of gunzipped/plain tar given in `tars`. */
  layers: RawBlob[];
  diffIds: string[];
  arch?: string;
  configBlob?: RawBlob;
  manifestMediaType?: string;
}

/** Write one image (layers, config, manifest) and return its manifest descriptor. */
export async function putImage(layout: string, img: FixtureImage) {
  const layers = [];
  for (const l of img.layers) layers.push(await putBlob(layout, l));
  const cfgBytes = Buffer.from(JSON.stringify({ architecture: img.arch ?? 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: img.diffIds } }));
  const config = await putBlob(layout, img.configBlob ?? { bytes: cfgBytes, mediaType: 'application/vnd.oci.image.config.v1+json' });
  const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config, layers }));
  return putBlob(layout, { bytes: manifest, mediaType: img.manifestMediaType ?? 'application/vnd.oci.image.manifest.v1+json' });
}

/** Write oci-layout and index.json listing `entries`. */
export async function putIndex(layout: string, entries: Array<{ mediaType: string; digest: string; size: number; annotations?: Record<string, string>; platform?: object }>): Promise<void> {
  await fsp.mkdir(layout, { recursive: true });
  await fsp.writeFile(path.join(layout, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  await fsp.writeFile(path.join(layout, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: entries }));
}

/** A one-layer gzip image whose layer is a real tar. */
export function gzipLayer(files: Record<string, string>): { blob: RawBlob; diffId: string } {
  const t = tinyLayerTar(files);
  return { blob: { bytes: gzipSync(t), mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip' }, diffId: sha(t) };
}

/** A fresh temp dir. */
export function tempDir(prefix: string): Promise<string> {
  return fsp.mkdtemp(path.join(os.tmpdir(), prefix));
}

/** Everything under FERRY/oci/blobs/sha256, and the refs in index.json (absent index → []). */
export async function mediaState(mediaRoot: string): Promise<{ blobs: string[]; refs: string[] }> {
  const dir = path.join(mediaRoot, 'FERRY', 'oci');
  let blobs: string[] = [];
  try {
    blobs = (await fsp.readdir(path.join(dir, 'blobs', 'sha256'))).sort();
  } catch {
    blobs = [];
  }
  let refs: string[] = [];
  try {
    const idx = JSON.parse(await fsp.readFile(path.join(dir, 'index.json'), 'utf8')) as { manifests: Array<{ annotations?: Record<string, string> }> };
    refs = idx.manifests.map((m) => m.annotations?.['org.opencontainers.image.ref.name'] ?? '?');
  } catch {
    refs = [];
  }
  return { blobs, refs };
}
