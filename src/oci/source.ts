/**
 * Image sources: every input transport resolves to one SourceImage (layers to copy or
 * re-encode, a config, a platform), so the exporter has a single code path. Sources are
 * registered per transport in a Record (STYLE.md rule 3).
 */
import { createReadStream } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { PassThrough, type Readable } from 'node:stream';
import { FerryError } from '../errors.js';
import { openDockerArchive } from './docker-archive.js';
import type { InputName, InputTransport } from './input-name.js';
import { OciLayout, type ResolvedImage } from './layout.js';
import { openOciArchive } from './oci-archive.js';
import type { RegistryOptions } from './registry/client.js';
import type { ChunkSource, FileRange } from './range-copy.js';
import { type Compression, configPlatform, type Descriptor, formatPlatform, type ImageManifest, layerCompression, MediaType, type Platform } from './types.js';

/** One layer as the source has it. */
export interface SourceLayer {
  /** Descriptor of the raw bytes when known; the bytes are then checked against it as they stream. */
  descriptor?: Descriptor;
  compression: Compression;
  /** The uncompressed digest the source's config promises, when known. */
  diffId?: string;
  /** Size of the raw bytes when known, else an estimate (space checks, progress). */
  sizeHint: number;
  /** A fresh stream of the raw bytes. */
  open(): Readable;
  /** Where the raw bytes sit in a file, when they do (enables the fast verified copy). */
  range?: () => Promise<FileRange | undefined>;
  /** The raw bytes read straight into the copy's buffers (a registry download: the fast verified copy without a file). */
  chunks?: () => ChunkSource;
  what: string;
}

/** The config: an existing blob copied unchanged, or built from the final diff_ids. */
export type SourceConfig =
  | { kind: 'blob'; descriptor: Descriptor; open(): Readable }
  | { kind: 'build'; build(diffIds: string[]): Buffer };

/** An image resolved from an input, ready to be exported. */
export interface SourceImage {
  describe: string;
  platform: Platform;
  layers: SourceLayer[];
  config: SourceConfig;
  /** What `--compress keep` means for layers that have no compression of their own to keep (rootfs). */
  keepDefault?: Compression;
  manifestAnnotations?: Record<string, string>;
  /** The source's own image manifest, reused byte for byte when nothing in it changes (same digest as the source). */
  original?: { descriptor: Descriptor; manifest: ImageManifest; open(): Readable };
  /** How many layers may be copied at once (a registry: downloads overlap; default 1). */
  concurrency?: number;
  /** Bytes received from the source so far, when it is a download (a registry). */
  bytesFetched?: () => number;
}

/** Options of a source open. */
export interface SourceOptions {
  /** Requested platform; undefined means "linux/amd64 from an index, or whatever a single image is". */
  platform?: Platform;
  sourceDateEpoch: number;
  /** How to reach a registry (docker:// inputs): auth file, TLS. */
  registry?: RegistryOptions;
}

/** The platform picked from an index when none is asked for. */
export const DEFAULT_PLATFORM: Platform = { os: 'linux', architecture: 'amd64' };

function samePlatform(a: Platform, b: Platform): boolean {
  return a.os === b.os && a.architecture === b.architecture && (a.variant === undefined || b.variant === undefined || a.variant === b.variant);
}

/** Check a single image's platform against an explicitly requested one. */
export function checkPlatform(have: Platform, want: Platform | undefined, describe: string): void {
  if (want && !samePlatform(have, want)) {
    throw new FerryError('PLATFORM_NOT_FOUND', `${describe} is for ${formatPlatform(have)}, not ${formatPlatform(want)}; pass --platform ${formatPlatform(have)} or pick another image`);
  }
}

/** Where the blobs of a resolved image are read from (a layout, a registry). */
export interface BlobReader {
  open(desc: Descriptor, what: string): Readable;
  /** Where a blob's bytes sit in a file, when they do. */
  range?(digest: string): Promise<FileRange | undefined>;
  /** A blob's bytes as a ChunkSource, when the reader can fill buffers itself. */
  chunks?(desc: Descriptor, what: string): ChunkSource;
}

/** A SourceImage from a resolved manifest and config: every input with an image manifest goes through here. */
export function sourceFromResolved(img: ResolvedImage, blobs: BlobReader, opts: SourceOptions, describe: string): SourceImage {
  const cfgType = img.configDescriptor.mediaType;
  if (cfgType !== MediaType.imageConfig && cfgType !== MediaType.dockerConfig) {
    throw new FerryError('UNSUPPORTED_MEDIA_TYPE', `${describe}: config media type "${cfgType}" is not an image config (is this an artifact?)`, { details: { mediaType: cfgType } });
  }
  const platform = configPlatform(img.config);
  checkPlatform(platform, opts.platform, describe);
  const layers = img.manifest.layers.map((d, i): SourceLayer => {
    const layer: SourceLayer = {
      descriptor: d,
      compression: layerCompression(d.mediaType),
      diffId: img.config.rootfs.diff_ids[i]!,
      sizeHint: d.size,
      open: () => blobs.open(d, `layer ${d.digest}`),
      what: `layer ${i + 1} (${d.digest})`,
    };
    if (blobs.range) layer.range = () => blobs.range!(d.digest);
    if (blobs.chunks) layer.chunks = () => blobs.chunks!(d, `layer ${d.digest}`);
    return layer;
  });
  const cfgDesc: Descriptor = { mediaType: MediaType.imageConfig, digest: img.configDescriptor.digest, size: img.configDescriptor.size };
  const out: SourceImage = { describe, platform, layers, config: { kind: 'blob', descriptor: cfgDesc, open: () => blobs.open(cfgDesc, 'image config') } };
  if (img.manifest.annotations) out.manifestAnnotations = img.manifest.annotations;
  const md = img.manifestDescriptor;
  out.original = { descriptor: { mediaType: md.mediaType, digest: md.digest, size: md.size }, manifest: img.manifest, open: () => blobs.open(md, 'image manifest') };
  return out;
}

/** Resolve an image from an OCI layout (a directory or an archive read in place). */
export async function sourceFromLayout(layout: OciLayout, ref: string | undefined, opts: SourceOptions, describe: string): Promise<SourceImage> {
  const desc = await layout.findRef(ref);
  const img = await layout.resolveImage(desc, opts.platform ?? DEFAULT_PLATFORM, ref);
  return sourceFromResolved(img, { open: (d, what) => layout.openBlob(d, what), range: (digest) => layout.blobRange(digest) }, opts, describe);
}

/** Bytes of a tree as tar would need them (file data + a header per entry), for the space check. */
async function treeSize(dir: string): Promise<number> {
  let total = 0;
  const walk = async (d: string): Promise<void> => {
    for (const e of await fsp.readdir(d, { withFileTypes: true })) {
      const p = `${d}/${e.name}`;
      total += 512;
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) total += Math.ceil((await fsp.lstat(p)).size / 512) * 512;
    }
  };
  await walk(dir);
  return total;
}

async function rootfsSource(path: string, opts: SourceOptions, describe: string): Promise<SourceImage> {
  const { packRootfsDir, rootfsConfig, tarballCompression } = await import('./rootfs.js');
  let st;
  try {
    st = await fsp.stat(path);
  } catch (e) {
    throw new FerryError('IMAGE_NOT_FOUND', `${describe}: ${path} does not exist`, { cause: e });
  }
  const platform = opts.platform ?? DEFAULT_PLATFORM;
  const config: SourceConfig = { kind: 'build', build: (ids) => rootfsConfig(platform, ids, opts.sourceDateEpoch) };
  if (st.isDirectory()) {
    const layer: SourceLayer = {
      compression: 'none',
      sizeHint: await treeSize(path),
      open: () => {
        // packRootfsDir is async (it lists the top level first); pipe() keeps backpressure
        const p = new PassThrough({ highWaterMark: 1024 * 1024 });
        packRootfsDir(path, opts.sourceDateEpoch).then(
          (s) => {
            s.on('error', (e) => p.destroy(e));
            s.pipe(p);
          },
          (e: unknown) => p.destroy(e as Error),
        );
        return p;
      },
      what: `rootfs ${path}`,
    };
    return { describe, platform, layers: [layer], config, keepDefault: 'gzip' };
  }
  if (!st.isFile()) throw new FerryError('BAD_INPUT_NAME', `${describe}: ${path} is neither a directory nor a tarball`);
  const compression = await tarballCompression(path);
  const layer: SourceLayer = { compression, sizeHint: st.size, open: () => createReadStream(path, { highWaterMark: 1024 * 1024 }), what: `rootfs tarball ${path}` };
  return { describe, platform, layers: [layer], config, keepDefault: compression === 'none' ? 'gzip' : compression };
}

type SourceFactory = (input: InputName, opts: SourceOptions, describe: string) => Promise<SourceImage>;

/**
 * A layout is a folder and an archive is a file: the other kind gets a typed error that
 * names the path and the transport that reads it (not EISDIR or ENOTDIR from deep inside).
 */
async function checkInputKind(input: InputName, describe: string): Promise<void> {
  if (input.transport === 'rootfs' || input.transport === 'containers-storage' || input.transport === 'docker') return;
  const st = await fsp.stat(input.path).catch((e: unknown) => {
    throw new FerryError('IMAGE_NOT_FOUND', `${describe}: ${input.path} does not exist: check the path`, { cause: e });
  });
  const ref = input.ref ? `:${input.ref}` : '';
  if (input.transport === 'oci' && !st.isDirectory()) {
    const hint = st.isFile() ? `: an archive is read with oci-archive:${input.path}${ref} (or docker-archive:${input.path}${ref} for docker save output)` : ': give the folder that holds oci-layout and index.json';
    throw new FerryError('BAD_INPUT_NAME', `${describe}: ${input.path} is a file, not an OCI layout folder${hint}`, { details: { path: input.path } });
  }
  if (input.transport !== 'oci' && st.isDirectory()) {
    throw new FerryError('BAD_INPUT_NAME', `${describe}: ${input.path} is a folder, not an archive file: a layout folder is read with oci:${input.path}${ref}`, { details: { path: input.path } });
  }
}

/**
 * One factory per input transport. The rootfs, containers-storage and registry readers are
 * loaded only when their transport is used: they pull in node:child_process and node:tls,
 * which cost every export from an archive or a layout ~30 ms of start-up (bench: export rows).
 */
const SOURCES: Record<InputTransport, SourceFactory> = {
  oci: async (input, opts, describe) => sourceFromLayout(await OciLayout.open(input.path), input.ref, opts, describe),
  'oci-archive': async (input, opts, describe) => sourceFromLayout((await openOciArchive(input.path)).layout, input.ref, opts, describe),
  'docker-archive': (input, opts, describe) => openDockerArchive(input.path, input.ref, opts, describe),
  rootfs: (input, opts, describe) => rootfsSource(input.path, opts, describe),
  'containers-storage': async (input, opts, describe) => {
    const copy = await (await import('./containers-storage.js')).copyFromContainersStorage(input.path, describe);
    return sourceFromLayout(await OciLayout.open(copy.layout), copy.ref, opts, describe);
  },
  docker: async (input, opts, describe) => (await import('./registry/source.js')).openRegistrySource(input.path, opts, describe),
};

/** Open the image an input name points to. */
export async function openImageSource(input: InputName, opts: SourceOptions): Promise<SourceImage> {
  const describe = input.transport === 'docker' ? `docker://${input.path}` : `${input.transport}:${input.path}${input.ref ? `:${input.ref}` : ''}`;
  await checkInputKind(input, describe);
  return SOURCES[input.transport](input, opts, describe);
}
