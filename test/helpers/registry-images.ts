/**
 * Test helper: a multi-platform image (an OCI index over linux/amd64 = sample 1.0.0 and a
 * linux/arm64 twin with the same layer and its own config) in an OCI layout, for pushing
 * to the test registry with `skopeo copy --all`. Built by code from the samples.
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { LayoutWriter } from '../../src/oci/blob-store.js';
import { OciLayout } from '../../src/oci/layout.js';
import { Annotation, type Descriptor, MediaType } from '../../src/oci/types.js';
import type { SampleImages } from './samples.js';

/** Write the layout under `dir`/multi and return its input name `oci:…:multi`. */
export async function buildMultiArch(samples: SampleImages, dir: string): Promise<string> {
  const src = await OciLayout.open(samples.layout);
  const img = await src.resolveImage(samples.v1Manifest);
  const root = path.join(dir, 'multi');
  const w = await LayoutWriter.create(root);
  for (const d of [samples.v1Manifest, img.configDescriptor, ...img.manifest.layers]) await fsp.copyFile(path.join(samples.layout, 'blobs', 'sha256', d.digest.slice(7)), w.blobPath(d.digest));
  const armConfig = { ...img.config, architecture: 'arm64' };
  const cfg = await w.writeBytes(Buffer.from(JSON.stringify(armConfig)), MediaType.imageConfig);
  const man = { schemaVersion: 2, mediaType: MediaType.imageManifest, config: cfg.descriptor, layers: img.manifest.layers };
  const arm = (await w.writeBytes(Buffer.from(JSON.stringify(man)), MediaType.imageManifest)).descriptor;
  const entry = (d: Descriptor, architecture: string): Descriptor => ({ mediaType: d.mediaType, digest: d.digest, size: d.size, platform: { os: 'linux', architecture } });
  const index = { schemaVersion: 2, mediaType: MediaType.imageIndex, manifests: [entry(samples.v1Manifest, 'amd64'), entry(arm, 'arm64')] };
  const idx = (await w.writeBytes(Buffer.from(JSON.stringify(index)), MediaType.imageIndex)).descriptor;
  await w.addToIndex([{ ...idx, annotations: { [Annotation.refName]: 'multi' } }]);
  return `oci:${root}:multi`;
}
