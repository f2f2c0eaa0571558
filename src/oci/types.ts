/**
 * OCI image-spec v1.1 types and their validators (pure: values in, values or
 * FerryError out). Each validator lists every bad field it finds.
 */
import { FerryError } from '../errors.js';

export const MediaType = {
  imageIndex: 'application/vnd.oci.image.index.v1+json',
  imageManifest: 'application/vnd.oci.image.manifest.v1+json',
  imageConfig: 'application/vnd.oci.image.config.v1+json',
  layerTar: 'application/vnd.oci.image.layer.v1.tar',
  layerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  layerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  layerNondistTar: 'application/vnd.oci.image.layer.nondistributable.v1.tar',
  layerNondistGzip: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  layerNondistZstd: 'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerLayerTar: 'application/vnd.docker.image.rootfs.diff.tar',
} as const;

/** Annotation keys ferry reads and writes (image-spec annotations.md). */
export const Annotation = {
  refName: 'org.opencontainers.image.ref.name',
  version: 'org.opencontainers.image.version',
  created: 'org.opencontainers.image.created',
} as const;

/** Size caps for JSON documents read from untrusted places. */
export const Caps = {
  indexJson: 4 * 1024 * 1024,
  /** Images listed in one index.json or image index. */
  indexEntries: 10_000,
  manifestJson: 4 * 1024 * 1024,
  configJson: 8 * 1024 * 1024,
  ociLayoutFile: 4096,
  updateManifest: 1024 * 1024,
  signature: 1024 * 1024,
} as const;

export type Compression = 'none' | 'gzip' | 'zstd';

export interface Platform {
  architecture: string;
  os: string;
  variant?: string;
  'os.version'?: string;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: Platform;
  urls?: string[];
}

export interface ImageManifest {
  schemaVersion: 2;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
}

export interface ImageIndex {
  schemaVersion: 2;
  mediaType?: string;
  manifests: Descriptor[];
  annotations?: Record<string, string>;
}

export interface ImageConfig {
  architecture: string;
  os: string;
  variant?: string;
  created?: string;
  config?: Record<string, unknown>;
  rootfs: { type: 'layers'; diff_ids: string[] };
  history?: unknown[];
  [k: string]: unknown;
}

const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;

/** True for a sha256 digest in canonical form (ferry supports sha256 only, like every registry today). */
export function isSha256Digest(d: unknown): d is string {
  return typeof d === 'string' && DIGEST_RE.test(d);
}

/** The hex part of a sha256 digest. */
export function digestHex(d: string): string {
  return d.slice('sha256:'.length);
}

/** Compression of a layer media type; unknown types are refused with UNSUPPORTED_MEDIA_TYPE. */
export function layerCompression(mediaType: string): Compression {
  switch (mediaType) {
    case MediaType.layerTar:
    case MediaType.layerNondistTar:
    case MediaType.dockerLayerTar:
      return 'none';
    case MediaType.layerGzip:
    case MediaType.layerNondistGzip:
    case MediaType.dockerLayerGzip:
      return 'gzip';
    case MediaType.layerZstd:
    case MediaType.layerNondistZstd:
      return 'zstd';
    default:
      throw new FerryError('UNSUPPORTED_MEDIA_TYPE', `unsupported layer media type "${mediaType}": ferry reads tar, tar+gzip and tar+zstd layers`, {
        details: { mediaType },
      });
  }
}

/** The OCI layer media type for a compression. */
export function layerMediaType(c: Compression): string {
  return c === 'none' ? MediaType.layerTar : c === 'gzip' ? MediaType.layerGzip : MediaType.layerZstd;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkDescriptor(v: unknown, where: string, bad: string[]): void {
  if (!isObject(v)) {
    bad.push(`${where} is not an object`);
    return;
  }
  if (typeof v.mediaType !== 'string' || v.mediaType.length === 0) bad.push(`${where}.mediaType is missing`);
  if (!isSha256Digest(v.digest)) bad.push(`${where}.digest is not a sha256 digest`);
  if (typeof v.size !== 'number' || !Number.isSafeInteger(v.size) || v.size < 0) bad.push(`${where}.size is not a non-negative integer`);
  if (v.annotations !== undefined) {
    if (!isObject(v.annotations) || Object.values(v.annotations).some((a) => typeof a !== 'string')) bad.push(`${where}.annotations is not a string map`);
  }
}

function fail(code: 'INVALID_MANIFEST' | 'INVALID_LAYOUT', what: string, bad: string[]): never {
  throw new FerryError(code, `${what} is invalid: ${bad.join('; ')}`, { details: { problems: bad } });
}

/** Validate a descriptor value. */
export function parseDescriptor(v: unknown, what = 'descriptor'): Descriptor {
  const bad: string[] = [];
  checkDescriptor(v, what, bad);
  if (bad.length) fail('INVALID_MANIFEST', what, bad);
  return v as Descriptor;
}

/** Validate an image index (index.json or a multi-platform index blob). */
export function parseImageIndex(v: unknown, what = 'image index'): ImageIndex {
  const bad: string[] = [];
  if (!isObject(v)) fail('INVALID_LAYOUT', what, ['not a JSON object']);
  if (v.schemaVersion !== 2) bad.push('schemaVersion is not 2');
  if (v.mediaType !== undefined && v.mediaType !== MediaType.imageIndex && v.mediaType !== MediaType.dockerManifestList) {
    bad.push(`mediaType "${String(v.mediaType)}" is not an image index`);
  }
  if (!Array.isArray(v.manifests)) bad.push('manifests is not a list');
  else if (v.manifests.length > Caps.indexEntries) {
    // bounded work: every entry is validated, looked up and printed; no real stick carries this many
    throw new FerryError('LIMIT_EXCEEDED', `${what} lists ${v.manifests.length} images, more than the ${Caps.indexEntries} ferry reads: do not use this stick; report it to headquarters`, {
      details: { entries: v.manifests.length, cap: Caps.indexEntries },
    });
  } else v.manifests.forEach((d, i) => checkDescriptor(d, `manifests[${i}]`, bad));
  if (bad.length) fail('INVALID_LAYOUT', what, bad);
  return v as unknown as ImageIndex;
}

/** Validate an image manifest. */
export function parseImageManifest(v: unknown, what = 'image manifest'): ImageManifest {
  const bad: string[] = [];
  if (!isObject(v)) fail('INVALID_MANIFEST', what, ['not a JSON object']);
  if (v.schemaVersion !== 2) bad.push('schemaVersion is not 2');
  if (v.mediaType !== undefined && v.mediaType !== MediaType.imageManifest && v.mediaType !== MediaType.dockerManifest) {
    bad.push(`mediaType "${String(v.mediaType)}" is not an image manifest`);
  }
  checkDescriptor(v.config, 'config', bad);
  if (!Array.isArray(v.layers)) bad.push('layers is not a list');
  else v.layers.forEach((d, i) => checkDescriptor(d, `layers[${i}]`, bad));
  if (bad.length) fail('INVALID_MANIFEST', what, bad);
  return v as unknown as ImageManifest;
}

/** Validate an image config (only the fields ferry relies on). */
export function parseImageConfig(v: unknown, what = 'image config'): ImageConfig {
  const bad: string[] = [];
  if (!isObject(v)) fail('INVALID_MANIFEST', what, ['not a JSON object']);
  if (typeof v.architecture !== 'string') bad.push('architecture is missing');
  if (typeof v.os !== 'string') bad.push('os is missing');
  const rootfs = v.rootfs;
  if (!isObject(rootfs) || rootfs.type !== 'layers' || !Array.isArray(rootfs.diff_ids)) bad.push('rootfs.diff_ids is missing');
  else if (!rootfs.diff_ids.every(isSha256Digest)) bad.push('rootfs.diff_ids holds a value that is not a sha256 digest');
  if (bad.length) fail('INVALID_MANIFEST', what, bad);
  return v as unknown as ImageConfig;
}

/** "linux/amd64" or "linux/arm64/v8" → Platform. */
export function parsePlatform(s: string): Platform {
  const [os, architecture, variant] = s.split('/');
  if (!os || !architecture) throw new FerryError('USAGE', `platform "${s}" is not of the form os/arch[/variant]`);
  return variant ? { os, architecture, variant } : { os, architecture };
}

/** The platform an image config declares (os, architecture, and variant when it is a string). */
export function configPlatform(config: ImageConfig): Platform {
  const platform: Platform = { os: config.os, architecture: config.architecture };
  if (typeof config.variant === 'string') platform.variant = config.variant;
  return platform;
}

/** "linux/amd64[/v8]" for display. */
export function formatPlatform(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/');
}
