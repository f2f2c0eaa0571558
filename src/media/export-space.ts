/**
 * What an export will write, for the space check before its first byte (issue 11,
 * finding 11): every blob not on the media yet at its real size (a re-encoded layer at
 * its source size), the config and manifest at their size or a close upper bound, the
 * chunk index, and the new index.json beside the old one. Close figures matter: on a
 * FAT32 stick with 512-byte clusters a 64 KiB guess is 128 clusters nobody writes; the
 * estimate's explicit margin (store.ts) covers what no plan sees.
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { CHUNK_INDEX_CAP, DEFAULT_CHUNK_SIZE } from '../oci/chunk-index.js';
import type { LayoutWriter } from '../oci/blob-store.js';
import type { LayerAction } from '../oci/layer-copy.js';
import type { SourceImage } from '../oci/source.js';
import type { PlannedBlob } from './store.js';

/** Bytes of one layer's descriptor in a manifest (mediaType, digest, size, JSON punctuation), rounded up. */
const DESCRIPTOR_JSON = 256;

async function missing(layout: LayoutWriter, digest: string, size: number): Promise<boolean> {
  return (await layout.existingSize(digest)) !== size;
}

/** The files an export of `src` onto `layout` writes; `chunkIndex` when it writes one (signed exports). */
export async function plannedWrites(layout: LayoutWriter, src: SourceImage, actions: LayerAction[], opts: { chunkIndex: boolean; keptManifest: boolean }): Promise<PlannedBlob[]> {
  const out: PlannedBlob[] = [];
  for (const [i, a] of actions.entries()) {
    const layer = src.layers[i]!;
    if (a.kind !== 'copy') out.push({ what: layer.what, size: layer.sizeHint }); // re-encoded: its size is known only after the write
    else if (await missing(layout, a.descriptor.digest, a.descriptor.size)) out.push({ what: `blob ${a.descriptor.digest}`, size: a.descriptor.size });
  }
  const layers = src.layers.length;
  if (src.config.kind === 'blob') {
    if (await missing(layout, src.config.descriptor.digest, src.config.descriptor.size)) out.push({ what: 'config', size: src.config.descriptor.size });
  } else out.push({ what: 'config', size: 1024 + 80 * layers }); // a built config: platform, dates and one diff_id per layer
  const original = src.original?.descriptor;
  if (opts.keptManifest && original) {
    if (await missing(layout, original.digest, original.size)) out.push({ what: 'manifest', size: original.size });
  } else out.push({ what: 'manifest', size: 512 + DESCRIPTOR_JSON * (layers + 1) + JSON.stringify(src.manifestAnnotations ?? {}).length });
  if (opts.chunkIndex) {
    // one 64-hex string per 4 MiB chunk of each layer, and the layer's digest as a key
    const chunks = src.layers.reduce((n, l) => n + Math.ceil(l.sizeHint / DEFAULT_CHUNK_SIZE), 0);
    out.push({ what: 'chunk index', size: Math.min(CHUNK_INDEX_CAP, 256 + 80 * layers + 70 * chunks) });
  }
  // index.json is rewritten through a temp file: the old one is already on the media, the new one holds one more entry
  const index = await fsp.stat(path.join(layout.root, 'index.json')).then((st) => st.size, () => 0);
  out.push({ what: 'index.json', size: index + 512 });
  return out;
}
