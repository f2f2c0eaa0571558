/**
 * Reading an OCI image layout (image-spec image-layout.md): oci-layout, index.json
 * and blobs/sha256/<hex>. Every JSON read is capped; every blob read is verified
 * against its descriptor while it streams. Writing lives in blob-store.ts.
 */
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { FerryError } from '../errors.js';
import { mediaFileSize, readFileCapped, streamRegular } from '../util/fsx.js';
import { mediaFileSizeSync, readFileCappedSync } from '../util/fsx-sync.js';
import { parseStrictJson } from '../util/json.js';
import { DigestVerifier, sha256Digest } from './digest.js';
import type { ChunkSource, FileRange } from './range-copy.js';
import {
  Annotation,
  Caps,
  type Descriptor,
  digestHex,
  formatPlatform,
  type ImageConfig,
  type ImageIndex,
  type ImageManifest,
  isSha256Digest,
  MediaType,
  parseImageConfig,
  parseImageIndex,
  parseImageManifest,
  type Platform,
} from './types.js';

/** An image resolved from a layout: its manifest descriptor, manifest and config. */
export interface ResolvedImage {
  ref: string | undefined;
  manifestDescriptor: Descriptor;
  manifest: ImageManifest;
  configDescriptor: Descriptor;
  config: ImageConfig;
}

/**
 * Where a layout's files live: a directory (the default) or an oci-archive tar read in
 * place (see oci-archive.ts). Paths are relative ("index.json", "blobs/sha256/<hex>").
 * Missing files fail with an error whose `code` is 'ENOENT'.
 */
export interface LayoutBackend {
  /** Read a whole small file, refusing it over `cap` bytes. */
  readCapped(rel: string, cap: number, what: string): Promise<Buffer>;
  /** A stream of a file's bytes (errors with code ENOENT when missing). */
  open(rel: string): Readable;
  /** Size of a regular file, or undefined when absent. */
  size(rel: string): Promise<number | undefined>;
  /** Where a file's bytes sit on disk (for the fast copy path), or undefined when absent. */
  range(rel: string): Promise<FileRange | undefined>;
  /** The blob's bytes read straight into the caller's buffers (a registry's raw GET), where the backend offers that; held to `desc.size`. */
  chunks?(desc: Descriptor, what: string): ChunkSource;
}

/** A blob's path relative to the layout root, "blobs/sha256/<hex>" (the digest is validated first, so no path tricks). */
export function blobRel(digest: string): string {
  if (!isSha256Digest(digest)) throw new FerryError('INVALID_MANIFEST', `"${digest}" is not a sha256 digest`);
  return `blobs/sha256/${digestHex(digest)}`;
}

/**
 * The plain directory backend. Nothing below `root` is followed or opened unless it is a
 * real folder or a regular file (fsx.openRegular): a FIFO, socket, device node or link in
 * the layout is UNSAFE_MEDIA at once, never a hang and never a read of the device's files.
 */
export function directoryBackend(root: string): LayoutBackend {
  return {
    readCapped: (rel, cap, what) => readFileCapped(path.join(root, rel), cap, what, { under: root }),
    open: (rel) => streamRegular(path.join(root, rel), rel, { under: root, highWaterMark: 1024 * 1024 }),
    size: (rel) => mediaFileSize(root, path.join(root, rel)),
    range: async (rel) => {
      const file = path.join(root, rel);
      const size = await mediaFileSize(root, file);
      return size === undefined ? undefined : { file, start: 0, size, under: root };
    },
  };
}

/**
 * directoryBackend with its checks and small reads made synchronously (util/fsx-sync.ts: the
 * same checks and errors), for `ferry verify`, which has nothing to overlap with them; `open`'s
 * stream is directoryBackend's.
 */
export function directoryBackendSync(root: string): LayoutBackend {
  const size = (rel: string) => mediaFileSizeSync(root, path.join(root, rel));
  return {
    ...directoryBackend(root),
    readCapped: async (rel, cap, what) => readFileCappedSync(path.join(root, rel), cap, what, { under: root }),
    size: async (rel) => size(rel),
    range: async (rel) => {
      const bytes = size(rel);
      return bytes === undefined ? undefined : { file: path.join(root, rel), start: 0, size: bytes, under: root };
    },
  };
}

/** Read access to an OCI image layout directory (or an archive read in place). */
export class OciLayout {
  private constructor(
    readonly root: string,
    private readonly backend: LayoutBackend,
  ) {}

  /** Open a layout, checking its oci-layout marker file. `backend` defaults to the directory `root`. */
  static async open(root: string, backend: LayoutBackend = directoryBackend(root)): Promise<OciLayout> {
    let marker: unknown;
    try {
      marker = parseStrictJson(await backend.readCapped('oci-layout', Caps.ociLayoutFile, 'oci-layout'), Caps.ociLayoutFile, 'oci-layout');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new FerryError('INVALID_LAYOUT', `${root} is not an OCI image layout (no oci-layout file)`, { cause: e });
      }
      throw e;
    }
    const version = (marker as { imageLayoutVersion?: unknown } | null)?.imageLayoutVersion;
    if (version !== '1.0.0') throw new FerryError('INVALID_LAYOUT', `${root}/oci-layout: imageLayoutVersion is ${JSON.stringify(version)}, expected "1.0.0"`);
    return new OciLayout(root, backend);
  }

  /** A reader of the blob straight into the caller's buffers, where the backend has one (a registry), else undefined. */
  blobChunks(desc: Descriptor, what: string): (() => ChunkSource) | undefined {
    const chunks = this.backend.chunks?.bind(this.backend);
    return chunks ? () => chunks(desc, what) : undefined;
  }

  /** Where the blob's bytes sit on disk, or undefined when it is absent. */
  async blobRange(digest: string): Promise<FileRange | undefined> {
    return this.backend.range(blobRel(digest));
  }

  /**
   * Check before anything is written that every blob is there as a regular file: a missing
   * blob is BLOB_MISSING and a FIFO, device or link UNSAFE_MEDIA while nothing has changed yet.
   */
  async requireBlobs(descs: Descriptor[], what: string): Promise<void> {
    for (const d of descs) {
      if (!(await this.hasBlob(d.digest))) {
        throw new FerryError('BLOB_MISSING', `blob ${d.digest} of ${what} is missing from the layout: the media is incomplete; re-copy it at headquarters`, { details: { digest: d.digest } });
      }
    }
  }

  /** The parsed index.json. */
  async readIndex(): Promise<ImageIndex> {
    let bytes: Buffer;
    try {
      bytes = await this.backend.readCapped('index.json', Caps.indexJson, 'index.json');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new FerryError('INVALID_LAYOUT', `${this.root} has no index.json: not a complete OCI image layout`, { cause: e });
      throw e;
    }
    return parseImageIndex(parseStrictJson(bytes, Caps.indexJson, 'index.json'), 'index.json');
  }

  /** True when the blob file exists (its content is not checked). */
  async hasBlob(digest: string): Promise<boolean> {
    return (await this.backend.size(blobRel(digest))) !== undefined;
  }

  /**
   * A stream of the blob's bytes that fails with DIGEST_MISMATCH / SIZE_MISMATCH
   * unless they match the descriptor, and with BLOB_MISSING when absent.
   */
  openBlob(desc: Descriptor, what = `blob ${desc.digest}`): Readable {
    const verifier = new DigestVerifier(desc.digest, desc.size, what);
    const src = this.backend.open(blobRel(desc.digest));
    src.on('error', (e: NodeJS.ErrnoException) => {
      verifier.destroy(
        e instanceof FerryError
          ? e
          : e.code === 'ENOENT'
            ? new FerryError('BLOB_MISSING', `${what} is missing from the layout: the media is incomplete; re-copy it at headquarters`, { cause: e, details: { digest: desc.digest } })
            : new FerryError('IO_ERROR', `${what}: ${e.message}`, { cause: e }),
      );
    });
    return src.pipe(verifier);
  }

  /** Read and verify the whole blob, discarding the bytes (for `verify`). Returns bytes read. */
  async verifyBlob(desc: Descriptor, what?: string): Promise<number> {
    const s = this.openBlob(desc, what);
    let n = 0;
    await pipeline(s, async (src: AsyncIterable<Buffer>) => {
      for await (const chunk of src) n += chunk.length;
    });
    return n;
  }

  /** Read a small JSON blob, verified against its descriptor, with a size cap. */
  async readJsonBlob(desc: Descriptor, cap: number, what = `blob ${desc.digest}`): Promise<unknown> {
    if (desc.size > cap) throw new FerryError('FILE_TOO_LARGE', `${what} is ${desc.size} bytes, over the ${cap}-byte cap`);
    let bytes: Buffer;
    try {
      bytes = await this.backend.readCapped(blobRel(desc.digest), cap, what);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new FerryError('BLOB_MISSING', `${what} is missing from the layout: the media is incomplete; re-copy it at headquarters`, { cause: e, details: { digest: desc.digest } });
      }
      throw e;
    }
    if (bytes.length !== desc.size) throw new FerryError('SIZE_MISMATCH', `${what}: expected ${desc.size} bytes, got ${bytes.length}`);
    const actual = sha256Digest(bytes);
    if (actual !== desc.digest) throw new FerryError('DIGEST_MISMATCH', `${what}: content does not match its digest (expected ${desc.digest}, got ${actual})`);
    return parseStrictJson(bytes, cap, what);
  }

  /**
   * Find the manifest descriptor named `ref` (annotation org.opencontainers.image.ref.name),
   * or the only image when `ref` is undefined.
   */
  async findRef(ref: string | undefined): Promise<Descriptor> {
    const index = await this.readIndex();
    if (ref === undefined) {
      if (index.manifests.length === 1) return index.manifests[0]!;
      const names = index.manifests.map((d) => d.annotations?.[Annotation.refName]).filter(Boolean);
      throw new FerryError(index.manifests.length === 0 ? 'IMAGE_NOT_FOUND' : 'AMBIGUOUS_IMAGE', index.manifests.length === 0 ? `${this.root} holds no image` : `${this.root} holds ${index.manifests.length} images; name one of: ${names.join(', ')}`);
    }
    const found = index.manifests.filter((d) => d.annotations?.[Annotation.refName] === ref);
    if (found.length === 0) {
      const names = index.manifests.map((d) => d.annotations?.[Annotation.refName]).filter(Boolean);
      throw new FerryError('IMAGE_NOT_FOUND', `no image named "${ref}" in ${this.root} (it has: ${names.join(', ') || 'none'})`);
    }
    return found[found.length - 1]!;
  }

  /**
   * Resolve a descriptor (manifest or index) to one image manifest and its config,
   * choosing `platform` from a multi-platform index.
   */
  async resolveImage(desc: Descriptor, platform: Platform = { os: 'linux', architecture: 'amd64' }, ref?: string): Promise<ResolvedImage> {
    let manifestDescriptor = desc;
    if (desc.mediaType === MediaType.imageIndex || desc.mediaType === MediaType.dockerManifestList) {
      const index = parseImageIndex(await this.readJsonBlob(desc, Caps.indexJson, 'image index'), 'image index');
      manifestDescriptor = pickPlatform(index, platform);
    } else if (desc.mediaType !== MediaType.imageManifest && desc.mediaType !== MediaType.dockerManifest) {
      throw new FerryError('UNSUPPORTED_MEDIA_TYPE', `unsupported manifest media type "${desc.mediaType}"`);
    }
    const manifest = parseImageManifest(await this.readJsonBlob(manifestDescriptor, Caps.manifestJson, 'image manifest'));
    const config = parseImageConfig(await this.readJsonBlob(manifest.config, Caps.configJson, 'image config'));
    if (config.rootfs.diff_ids.length !== manifest.layers.length) {
      throw new FerryError('INVALID_MANIFEST', `image config lists ${config.rootfs.diff_ids.length} diff_ids but the manifest has ${manifest.layers.length} layers`);
    }
    return { ref, manifestDescriptor, manifest, configDescriptor: manifest.config, config };
  }
}

/** Pick the manifest for `platform` from an index, or explain which platforms exist. */
export function pickPlatform(index: ImageIndex, platform: Platform): Descriptor {
  const match = index.manifests.filter(
    (d) => d.platform?.os === platform.os && d.platform.architecture === platform.architecture && (platform.variant === undefined || d.platform.variant === platform.variant),
  );
  if (match.length === 0) {
    const have = index.manifests.map((d) => (d.platform ? formatPlatform(d.platform) : 'unknown')).join(', ');
    throw new FerryError('PLATFORM_NOT_FOUND', `no image for platform ${formatPlatform(platform)} (available: ${have}); pass --platform`);
  }
  return match[0]!;
}
