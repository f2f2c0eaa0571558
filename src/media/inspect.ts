/**
 * `ferry inspect`: what is on the media: each image (ref, version, platform, layer
 * count, sizes), the bytes blobs share between images, the total, and each signed
 * update with its signers (inspect-updates.ts).
 */
import { FerryError } from '../errors.js';
import { Annotation, Caps, configPlatform, type Descriptor, formatPlatform, MediaType, parseImageConfig, parseImageManifest } from '../oci/types.js';
import { isHostileMedia } from '../util/fsx.js';
import { inspectUpdates, type UpdateSummary } from './inspect-updates.js';
import { openMediaSource } from './source.js';

/** One image on the media. */
export interface ImageSummary {
  ref: string;
  version: string | undefined;
  digest: string;
  platform: string;
  layers: number;
  /** config + layers. */
  payloadBytes: number;
  /** Bytes of this image's blobs that other images on the media use too. */
  sharedBytes: number;
  /** Set when the image's manifest or config cannot be read (run ferry verify). */
  problem?: string;
}

/** Everything inspect reports. */
export interface MediaSummary {
  mediaRoot: string;
  images: ImageSummary[];
  /** Distinct blobs referenced (manifests, configs, layers) and their bytes. */
  blobs: number;
  totalBytes: number;
  /** Bytes that are stored once but used by more than one image. */
  sharedBytes: number;
  /** Update manifests present in FERRY/updates (file names). */
  updates: string[];
  /** Each update manifest with its signers, chain validity, expiry and compatible strings (not verified: see ferry verify --trust). */
  signedUpdates: UpdateSummary[];
}

/** Summarise the media at `mediaRoot` (a folder holding FERRY/, or an archive written by ferry archive). */
export async function inspectMedia(mediaRoot: string): Promise<MediaSummary> {
  const source = await openMediaSource(mediaRoot);
  const layout = await source.openLayout();
  const index = await layout.readIndex();
  const users = new Map<string, { size: number; refs: Set<string> }>();
  const use = (d: Descriptor, ref: string) => {
    const u = users.get(d.digest) ?? { size: d.size, refs: new Set<string>() };
    u.refs.add(ref);
    users.set(d.digest, u);
  };
  const perImage: Array<{ entry: Descriptor; ref: string; blobs: Descriptor[]; platform: string; layers: number; problem?: string }> = [];
  for (const entry of index.manifests) {
    const ref = entry.annotations?.[Annotation.refName] ?? entry.digest;
    if (entry.mediaType !== MediaType.imageManifest && entry.mediaType !== MediaType.dockerManifest) {
      throw new FerryError('UNSUPPORTED_MEDIA_TYPE', `index entry ${ref} has media type "${entry.mediaType}"; ferry media holds image manifests only`);
    }
    try {
      const m = parseImageManifest(await layout.readJsonBlob(entry, Caps.manifestJson, `manifest of ${ref}`));
      const cfg = parseImageConfig(await layout.readJsonBlob(m.config, Caps.configJson, `config of ${ref}`));
      const platform = formatPlatform(configPlatform(cfg));
      const blobs = [m.config, ...m.layers];
      for (const d of [entry, ...blobs]) use(d, ref);
      perImage.push({ entry, ref, blobs, platform, layers: m.layers.length });
    } catch (e) {
      // a hostile stick is refused as a whole
      if (isHostileMedia(e)) throw e;
      // one damaged image must not hide the others: list it with its problem
      use(entry, ref);
      perImage.push({ entry, ref, blobs: [], platform: 'unknown', layers: 0, problem: e instanceof Error ? e.message : String(e) });
    }
  }
  const images: ImageSummary[] = perImage.map(({ entry, ref, blobs, platform, layers, problem }) => ({
    ...(problem !== undefined ? { problem } : {}),
    ref,
    version: entry.annotations?.[Annotation.version],
    digest: entry.digest,
    platform,
    layers,
    payloadBytes: blobs.reduce((n, d) => n + d.size, 0),
    sharedBytes: blobs.filter((d) => (users.get(d.digest)?.refs.size ?? 0) > 1).reduce((n, d) => n + d.size, 0),
  }));
  const all = [...users.values()];
  // hidden and AppleDouble ._* files are not updates
  const updates = (await source.list('updates').catch((e: unknown) => (isHostileMedia(e) ? Promise.reject(e) : []))).filter((n) => n.endsWith('.json') && !n.startsWith('.'));
  const signedUpdates = updates.length ? await inspectUpdates(source) : [];
  return {
    mediaRoot,
    images,
    blobs: all.length,
    totalBytes: all.reduce((n, u) => n + u.size, 0),
    sharedBytes: all.filter((u) => u.refs.size > 1).reduce((n, u) => n + u.size, 0),
    updates,
    signedUpdates,
  };
}
