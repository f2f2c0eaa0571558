/**
 * What a stick holds for one campaign image: its signed update manifest (read capped and
 * validated as the verifier does), compared with the campaign (match.ts) and with the
 * campaign's signers (signing.ts). Shared by build (keep or re-sign) and check.
 */
import * as path from 'node:path';
import { Caps, type Descriptor } from '../../oci/types.js';
import { validateUpdateManifest } from '../../trust/manifest.js';
import type { UpdateManifest } from '../../trust/types.js';
import { mediaPaths } from '../store.js';
import { stickFile } from './carry.js';
import { updateDifferences } from './match.js';
import { type LoadedSigner, missingSignatures } from './signing.js';
import type { CampaignImage } from './types.js';

/** The stick's update for a campaign image, and every way it falls short (empty: it matches). */
export interface CurrentUpdate {
  manifest?: UpdateManifest;
  problems: string[];
}

/**
 * Read `updates/<id>.json` and its signature on the stick at `media`. `image` is the image
 * manifest the stick's index lists for the ref (undefined when it lists none).
 */
export async function currentUpdate(media: string, id: string, image: Descriptor | undefined, img: CampaignImage, signers: readonly LoadedSigner[], now: Date): Promise<CurrentUpdate> {
  const file = path.join(mediaPaths(media).updates, `${id}.json`);
  const bytes = await stickFile(file);
  if (!bytes) return { problems: [`${id}: no signed update manifest (${file})`] };
  let m: UpdateManifest;
  try {
    if (bytes.length > Caps.updateManifest) throw new Error(`over ${Caps.updateManifest} bytes`);
    m = validateUpdateManifest(JSON.parse(bytes.toString('utf8')));
  } catch (e) {
    return { problems: [`${id}: the update manifest is not valid (${(e as Error).message})`] };
  }
  const problems = updateDifferences(m, img, now).map((d) => `${id}: ${d}`);
  if (image === undefined) problems.push(`${id}: FERRY/oci/index.json does not list the image`);
  else if (m.image.manifest.digest !== image.digest) problems.push(`${id}: the update pins ${m.image.manifest.digest}, the stick lists ${image.digest}`);
  const p7s = await stickFile(`${file}.p7s`);
  if (!p7s) problems.push(`${id}: no signature (${file}.p7s)`);
  else if (p7s.length > Caps.signature) problems.push(`${id}: the signature is over ${Caps.signature} bytes`);
  else for (const who of missingSignatures(p7s, bytes, signers)) problems.push(`${id}: no valid signature by ${who}`);
  return { manifest: m, problems };
}
