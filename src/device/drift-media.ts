/**
 * The signed file index on a stick, for a slot this device did not index itself (written
 * before ferry kept indexes, or by another tool): the stick's updates are verified as for
 * an apply, and the index pinned by a verified update for the very image the slot holds
 * is read (digest-checked, capped, parsed line by line with the device's own rules).
 */
import { ERROR_CODES, ExitCode } from '../errors.js';
import { openMediaLayout } from '../media/source.js';
import { FILE_INDEX_BLOB_CAP } from '../oci/file-index-blob.js';
import { type DeviceContext, type DeviceDeps, mediaVerifyRequest } from './context.js';
import { type IndexStream, openSignedIndex } from './files/index-reader.js';
import type { DeviceState } from './state.js';
import type { SlotName } from './types.js';

/** A lookup of the signed index for the image `slot` holds, on the stick at `mediaRoot`; undefined when none pins one. */
export function mediaIndexFrom(mediaRoot: string, dev: DeviceContext, deps: Pick<DeviceDeps, 'verifyMedia'>, clock: () => Date): (state: DeviceState, slot: SlotName) => Promise<IndexStream | undefined> {
  return async (state, slot) => {
    const digest = state.slots[slot].imageDigest;
    if (digest === undefined) return undefined;
    const verified = await deps.verifyMedia(mediaVerifyRequest(dev, state, mediaRoot, clock()));
    // Signed and valid; refused only by install policy (already installed, older, other device): still a true description.
    const update = verified.candidates.find((c) => c.manifest?.image.manifest.digest === digest && c.manifest.image.fileIndex && (c.refusal === undefined || ERROR_CODES[c.refusal.code] === ExitCode.NOT_APPLICABLE))?.manifest;
    const pinned = update?.image.fileIndex;
    if (!update || !pinned || pinned.size > FILE_INDEX_BLOB_CAP) return undefined;
    const layout = await openMediaLayout(mediaRoot);
    const what = `file index of ${update.id} on the media`;
    // Checked against its digest before a byte is parsed (a copy in the state directory), then compared as it is read.
    const index = await openSignedIndex(dev.config.stateDir, () => layout.openBlob(pinned, what), what);
    const image = await index.image().catch((e: unknown) => {
      index.close();
      throw e;
    });
    if (image === digest) return index;
    index.close();
    return undefined;
  };
}
