/**
 * Finding 8 of issue 11: when export cannot keep the input's image manifest byte for byte
 * (docker-archive has none in OCI form; --compress re-encodes layers), the digest on the
 * stick is new. The build pipeline, registries, cosign signatures and `bootc status` know
 * the old one, so the signed update manifest records it as `image.source`, and export says
 * "digest changed X → Y". Pure.
 */
import type { InputTransport } from '../oci/input-name.js';
import type { CompressChoice } from '../oci/layer-copy.js';
import type { SourceImage } from '../oci/source.js';
import type { Descriptor } from '../oci/types.js';
import type { ImageSource } from '../trust/types.js';

/** The source record of an export and the warning that goes with it; undefined when the input's manifest was kept (or there was none: rootfs). */
export function sourceRecord(transport: InputTransport, src: SourceImage, compress: CompressChoice, written: Descriptor, config: Descriptor): { source: ImageSource; warning: string } | undefined {
  const reencoded = compress !== 'keep' ? `layers re-encoded (--compress ${compress})` : undefined;
  if (transport === 'docker-archive') {
    const conversion = ['docker-archive converted to OCI media types', ...(reencoded ? [reencoded] : [])].join(', ');
    return {
      source: { transport, imageId: config.digest, conversion },
      warning: `docker-archive converted to OCI: new manifest digest ${written.digest} (docker image ID ${config.digest} is kept as the config digest and recorded in the signed update manifest)`,
    };
  }
  const original = src.original?.descriptor;
  if (!original || original.digest === written.digest) return undefined;
  const conversion = reencoded ?? 'converted to OCI media types';
  return {
    source: { transport, manifest: original.digest, conversion },
    warning: `manifest digest changed ${original.digest} → ${written.digest} (${conversion}): registries, cosign signatures and bootc status know the old digest; it is recorded in the signed update manifest as image.source`,
  };
}
