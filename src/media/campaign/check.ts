/**
 * `ferry campaign check`: does a packed stick hold what its campaign says? Every image
 * listed under its ref, its signed update matching the campaign's fields (rollout window,
 * requirements, notes, expiry not passed), signed by at least `requiredSigners` of the
 * campaign's signers over these very bytes, every blob intact, the CRL and
 * cross-certificates the campaign carries, and the campaign record. Reads only.
 */
import * as path from 'node:path';
import { FerryError } from '../../errors.js';
import { OciLayout } from '../../oci/layout.js';
import { Annotation, type Descriptor } from '../../oci/types.js';
import { readCertificates } from '../../trust/keys.js';
import { parseCertificate } from '../../trust/x509.js';
import { mediaPaths } from '../store.js';
import { verifyMediaBlobs } from '../verify.js';
import { carriedFiles, stickFile } from './carry.js';
import type { LoadedSigner } from './signing.js';
import { currentUpdate } from './stick-state.js';
import { type Campaign, campaignUpdateId } from './types.js';

/** One image's verdict on the stick. */
export interface ImageCheck {
  id: string;
  ok: boolean;
  problems: string[];
}

/** The whole check. */
export interface CampaignCheck {
  media: string;
  ok: boolean;
  images: ImageCheck[];
  /** Problems that are not one image's (blobs, CRL, cross-certificates, campaign record). */
  problems: string[];
  /** Worth knowing, not a mismatch (updates the campaign does not list). */
  notes: string[];
}

/** The campaign's signers by certificate only (no keys, no passphrases): enough to check who signed. */
async function signerIdentities(c: Campaign): Promise<LoadedSigner[]> {
  const out: LoadedSigner[] = [];
  for (const s of c.signers) {
    const [leafDer] = await readCertificates(path.join(s.dir, 'cert.pem'), 'signer certificate');
    const leaf = parseCertificate(leafDer!, `${s.dir}/cert.pem`, 'KEY_INVALID');
    const signer = { certificateChain: [leafDer!], sign: () => Promise.reject(new FerryError('INTERNAL', 'a check never signs')) };
    out.push({ dir: s.dir, signer, subject: leaf.subject, issuerDer: leaf.issuerDer, serialHex: leaf.serialHex });
  }
  return out;
}

/** Check the stick at `media` against the campaign at time `now`. */
export async function checkCampaignStick(c: Campaign, media: string, now: Date = new Date()): Promise<CampaignCheck> {
  const paths = mediaPaths(media);
  let listed: Map<string, Descriptor>;
  try {
    const index = await (await OciLayout.open(paths.oci)).readIndex();
    listed = new Map(index.manifests.map((d) => [d.annotations?.[Annotation.refName] ?? '', d]));
  } catch (e) {
    throw new FerryError('MEDIA_NOT_FOUND', `${media} holds no readable FERRY/oci layout: is this a stick of campaign ${c.name}? (${(e as Error).message})`, { cause: e });
  }
  const signers = await signerIdentities(c);
  const images: ImageCheck[] = [];
  for (const img of c.images) {
    const id = campaignUpdateId(img);
    const cur = await currentUpdate(media, id, listed.get(id), img, signers, now);
    // currentUpdate names every campaign signer missing; the stick is fine while enough remain
    const prefix = `${id}: no valid signature by `;
    const missing = cur.problems.filter((p) => p.startsWith(prefix)).map((p) => p.slice(prefix.length));
    const problems = cur.problems.filter((p) => !p.startsWith(prefix));
    const valid = signers.length - missing.length;
    if (missing.length > 0 && valid < c.requiredSigners) problems.push(`${id}: ${valid} of the ${c.requiredSigners} required campaign signature(s) (none valid by ${missing.join(', ')})`);
    images.push({ id, ok: problems.length === 0, problems });
  }
  const problems: string[] = [];
  const blobs = await verifyMediaBlobs(media);
  for (const p of blobs.problems) problems.push(p.message);
  for (const f of await carriedFiles(c, media)) {
    const have = await stickFile(f.file);
    if (!have) problems.push(`the ${f.what} ${path.relative(media, f.file)} is missing`);
    else if (!have.equals(f.bytes)) problems.push(`the ${f.what} ${path.relative(media, f.file)} differs from the campaign's`);
  }
  const want = new Set(c.images.map(campaignUpdateId));
  const notes = [...listed.keys()].filter((ref) => ref !== '' && !want.has(ref)).map((ref) => `the stick also carries ${ref}, which the campaign does not list`);
  const ok = problems.length === 0 && images.every((i) => i.ok);
  return { media, ok, images, problems, notes };
}
