/**
 * Writing one source layer into a layout: a verified byte copy when the wanted
 * compression is the one the layer already has, else a re-encode in one stream
 * (decompress → check the tar structure → check or compute the diff_id → compress →
 * hash to a temp blob).
 */
import type { Transform } from 'node:stream';
import { FerryError } from '../errors.js';
import type { ProgressFn } from '../progress.js';
import type { LayoutWriter } from './blob-store.js';
import { compressor, decompressor } from './compress.js';
import { DigestComputer, DigestVerifier } from './digest.js';
import type { SourceLayer } from './source.js';
import { TarStructureCheck } from './tar-check.js';
import { type Compression, type Descriptor, layerMediaType } from './types.js';

/** `--compress`: keep what the source has, or re-encode every layer. */
export type CompressChoice = 'keep' | Compression;

/** What to do with a layer, decided before any write. */
export type LayerAction = { kind: 'copy'; descriptor: Descriptor } | { kind: 'transcode'; to: Compression };

/** Decide copy vs re-encode (pure). */
export function planLayer(layer: SourceLayer, choice: CompressChoice, keepDefault: Compression | undefined): LayerAction {
  const to: Compression = choice !== 'keep' ? choice : layer.descriptor ? layer.compression : (keepDefault ?? layer.compression);
  if (layer.descriptor && to === layer.compression) {
    if (to === 'none' && layer.diffId !== undefined && layer.diffId !== layer.descriptor.digest) {
      throw new FerryError('INVALID_MANIFEST', `${layer.what}: an uncompressed layer's digest ${layer.descriptor.digest} differs from its diff_id ${layer.diffId}`);
    }
    return { kind: 'copy', descriptor: { mediaType: layerMediaType(to), digest: layer.descriptor.digest, size: layer.descriptor.size } };
  }
  return { kind: 'transcode', to };
}

/** A written layer: its descriptor in the new manifest and its diff_id for the config. */
export interface WrittenLayer {
  descriptor: Descriptor;
  diffId: string;
  written: boolean;
}

/** Execute a LayerAction into `store`. */
export async function writeLayer(store: LayoutWriter, layer: SourceLayer, action: LayerAction, opts: { verifyExisting?: boolean; progress?: ProgressFn }): Promise<WrittenLayer> {
  if (action.kind === 'copy') {
    const range = layer.range ? await layer.range() : undefined;
    const w = range ? await store.writeBlobFromRange(action.descriptor, range, opts) : await store.writeBlob(action.descriptor, layer.open, opts);
    return { descriptor: w.descriptor, diffId: layer.diffId ?? action.descriptor.digest, written: w.written };
  }
  const stages: Transform[] = [];
  if (layer.descriptor) stages.push(new DigestVerifier(layer.descriptor.digest, layer.descriptor.size, layer.what));
  stages.push(decompressor(layer.compression, layer.what), new TarStructureCheck(layer.what));
  // diff_id: the sha256 of the uncompressed tar (image-spec config.md, rootfs.diff_ids)
  const diff = layer.diffId ? new DigestVerifier(layer.diffId, -1, `${layer.what} (uncompressed, diff_id)`) : new DigestComputer();
  stages.push(diff, compressor(action.to));
  const w = await store.writeStream(layer.open(), stages, layerMediaType(action.to), layer.what, opts.progress, layer.sizeHint);
  const diffId = layer.diffId ?? (diff as DigestComputer).digest;
  return { descriptor: w.descriptor, diffId, written: w.written };
}
