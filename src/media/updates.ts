/**
 * Reading the signed updates on a stick (I/O shell): `FERRY/updates/<id>.json` and
 * `<id>.json.p7s`, plus the stick's trust material (`FERRY/trust/crl.pem`,
 * `FERRY/trust/roots/*.pem` cross-certificates). Every read is capped; hidden and
 * AppleDouble `._*` files, temp files and unrelated names are ignored; a link, FIFO, socket
 * or device node in any folder read here refuses the whole stick (UNSAFE_MEDIA). The media
 * may be a folder or an archive written by `ferry archive` (source.ts). Nothing read
 * here is trusted: verify-updates.ts hands the bytes to the pure verifier.
 *
 * A manifest without its signature is listed as SIGNATURE_MISSING ("unsigned or
 * incomplete"), never as an update: publish writes the signature first and the
 * manifest last, so an interrupted copy leaves at worst an orphan `.p7s`, which is
 * ignored; a `.json` alone means the copy or the signing did not finish.
 */
import * as path from 'node:path';
import { FerryError, toFerryError } from '../errors.js';
import { Caps } from '../oci/types.js';
import { fromPem } from '../trust/der-write.js';
import { pemNames } from '../trust/load.js';
import { isHostileMedia } from '../util/fsx.js';
import { type MediaSource, openMediaSource } from './source.js';

const MAX_UPDATES = 1000;
/** All manifests and signatures are held at once: their total is capped too (1000 × 2 MiB would not fit a kiosk's memory). */
const MAX_UPDATE_BYTES = 64 * 1024 * 1024;
const PEM_CAP = 1024 * 1024;
const CRL_CAP = 8 * 1024 * 1024;
/**
 * Most CRLs and cross-certificates taken from a stick. Every one is parsed and (CRLs)
 * signature-checked again for each of up to 1,000 updates: a copied legitimate CRL
 * repeated 8,000 times in crl.pem kept a device busy for about half an hour, lock held.
 * HQ writes one CRL (ferry pki revoke) and a few cross-certificates (root rotation).
 */
export const MAX_MEDIA_CRLS = 16;
export const MAX_MEDIA_CROSS_CERTS = 64;
/** Update ids are file names: the same characters as target names and versions. */
export const UPDATE_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,254}$/;

/** One update file pair as found on the stick: bytes, or why they could not be read. */
export interface MediaUpdateFiles {
  id: string;
  manifestFile: string;
  signatureFile: string;
  manifestBytes?: Buffer;
  signatureBytes?: Buffer;
  /** Set when the pair could not be read (missing signature, over a cap, not a file). */
  problem?: FerryError;
}

/** Everything under FERRY/updates and FERRY/trust, unverified. */
export interface MediaUpdates {
  updates: MediaUpdateFiles[];
  /** CRLs found in FERRY/trust/crl.pem (DER), candidates for the verifier. */
  crlCandidates: Buffer[];
  /** Cross-certificates from FERRY/trust/roots/*.pem (DER). */
  crossCerts: Buffer[];
}

/** List and read (capped) every update on the media (a folder or an archive) and its trust material. */
export async function listMediaUpdates(media: string | MediaSource): Promise<MediaUpdates> {
  const src = typeof media === 'string' ? await openMediaSource(media) : media;
  const names = await src.list('updates');
  const ids = names.filter((n) => n.endsWith('.json') && !n.startsWith('.') && UPDATE_ID_RE.test(n.slice(0, -5))).map((n) => n.slice(0, -5)).sort();
  if (ids.length > MAX_UPDATES) throw new FerryError('LIMIT_EXCEEDED', `${where(src, 'updates')} holds ${ids.length} update manifests, more than ${MAX_UPDATES}: do not use this stick; report it to headquarters`);
  const updates: MediaUpdateFiles[] = [];
  let total = 0;
  for (const id of ids) {
    const u = await readPair(src, id, names.includes(`${id}.json.p7s`));
    total += (u.manifestBytes?.length ?? 0) + (u.signatureBytes?.length ?? 0);
    if (total > MAX_UPDATE_BYTES) throw new FerryError('LIMIT_EXCEEDED', `${where(src, 'updates')} holds more than ${MAX_UPDATE_BYTES} bytes of update manifests and signatures: do not use this stick; report it to headquarters`);
    updates.push(u);
  }
  const crl = await src.readFile('trust/crl.pem', CRL_CAP, 'x509 crl');
  const crlCandidates = crl ? fromPem(crl.toString('utf8'), 'X509 CRL') : [];
  if (crlCandidates.length > MAX_MEDIA_CRLS) {
    throw new FerryError('LIMIT_EXCEEDED', `${where(src, 'trust/crl.pem')} holds ${crlCandidates.length} CRLs, more than ${MAX_MEDIA_CRLS}: do not use this stick; report it to headquarters`, { details: { cap: MAX_MEDIA_CRLS } });
  }
  // Names ferry cannot read back safely ("a b.pem", non-ASCII) are ignored like such names in updates/, not a reason to refuse the stick.
  const pems = pemNames(await src.list('trust/roots'), where(src, 'trust/roots'), true).filter((n) => UPDATE_ID_RE.test(n.slice(0, -4)));
  const crossCerts: Buffer[] = [];
  for (const n of pems) {
    const pem = await src.readFile(`trust/roots/${n}`, PEM_CAP, 'certificate');
    if (pem) crossCerts.push(...fromPem(pem.toString('utf8'), 'CERTIFICATE'));
    if (crossCerts.length > MAX_MEDIA_CROSS_CERTS) {
      throw new FerryError('LIMIT_EXCEEDED', `${where(src, 'trust/roots')} holds more than ${MAX_MEDIA_CROSS_CERTS} certificates: do not use this stick; report it to headquarters`, { details: { cap: MAX_MEDIA_CROSS_CERTS } });
    }
  }
  return { updates, crlCandidates, crossCerts };
}

/** A file's name for messages: its path in the folder, or archive!member. */
function where(src: MediaSource, rel: string): string {
  return src.kind === 'folder' ? path.join(src.path, 'FERRY', rel) : `${src.path}!${rel}`;
}

async function readPair(src: MediaSource, id: string, hasSignature: boolean): Promise<MediaUpdateFiles> {
  const rel = `updates/${id}.json`;
  const base = { id, manifestFile: where(src, rel), signatureFile: where(src, `${rel}.p7s`) };
  try {
    const manifestBytes = await src.readFile(rel, Caps.updateManifest, 'update manifest');
    if (!manifestBytes) throw new FerryError('MEDIA_DAMAGED', `${base.manifestFile} vanished while the media was read: re-copy the stick`);
    if (!hasSignature) {
      throw new FerryError('SIGNATURE_MISSING', `update ${id} has no signature (${id}.json.p7s): it is unsigned or the copy is incomplete; re-copy the stick or sign it with ferry sign`);
    }
    const signatureBytes = await src.readFile(`${rel}.p7s`, Caps.signature, 'signature');
    if (!signatureBytes) throw new FerryError('SIGNATURE_MISSING', `update ${id} has no signature (${id}.json.p7s): re-copy the stick or sign it with ferry sign`);
    return { ...base, manifestBytes, signatureBytes };
  } catch (e) {
    // a link or special file refuses the whole stick, not one update of it
    if (isHostileMedia(e)) throw e;
    return { ...base, problem: e instanceof FerryError ? e : toFerryError(e, `update ${id}`) };
  }
}
