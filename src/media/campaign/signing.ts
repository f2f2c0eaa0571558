/**
 * The campaign's signers, loaded (keys decrypted with their passphrase sources) and checked
 * against every image's manifest fields before anything is written; and the check that a
 * signature on a stick carries a valid SignerInfo of each campaign signer.
 */
import { createHash, verify as cryptoVerify } from 'node:crypto';
import { FerryError } from '../../errors.js';
import { checkPublishPlan } from '../publish.js';
import { parseSignedData } from '../../trust/cms.js';
import { readPassphrase } from '../../trust/keys.js';
import { loadFileSigner } from '../../trust/signer.js';
import type { Signer } from '../../trust/types.js';
import { parseCertificate } from '../../trust/x509.js';
import { campaignInvalid } from './load.js';
import type { Campaign, CampaignImage, CampaignProblem } from './types.js';

/** A loaded campaign signer: its Signer and its certificate's identity (as a SignerInfo names it). */
export interface LoadedSigner {
  dir: string;
  signer: Signer;
  subject: string;
  issuerDer: Buffer;
  serialHex: string;
}

/** Load every signer (decrypting its key) and check each image's manifest fields with each signer; CAMPAIGN_INVALID lists every problem. */
export async function prepareSigning(c: Campaign, now: Date): Promise<LoadedSigner[]> {
  const problems: CampaignProblem[] = [];
  const loaded: LoadedSigner[] = [];
  for (const s of c.signers) {
    try {
      const pass = await readPassphrase({ env: s.passphraseEnv, file: s.passphraseFile, fileOption: 'passphraseFile' });
      const signer = await loadFileSigner(s.dir, pass);
      const leaf = parseCertificate(signer.certificateChain[0]!, `${s.dir}/cert.pem`, 'KEY_INVALID');
      loaded.push({ dir: s.dir, signer, subject: leaf.subject, issuerDer: leaf.issuerDer, serialHex: leaf.serialHex });
    } catch (e) {
      if (!(e instanceof FerryError)) throw e;
      problems.push({ ...s.at, message: `signer ${s.dir} cannot be used: ${e.message}` });
    }
  }
  for (const img of c.images) {
    for (const s of loaded) {
      try {
        checkPublishPlan(publishFields(img), s.signer, now);
      } catch (e) {
        if (!(e instanceof FerryError)) throw e;
        problems.push({ ...img.at, message: `${img.target}-${img.version} with signer ${s.subject}: ${e.message}` });
      }
    }
  }
  if (problems.length > 0) throw campaignInvalid(c.file, problems);
  return loaded;
}

/** The signed-manifest fields of a campaign image, as publishUpdate takes them. */
export function publishFields(img: CampaignImage): { target: string; version: string; compatible: string[]; replaces?: string[]; counter?: number; expires?: string; notes?: string; notBefore?: string; minCounter?: number } {
  return {
    target: img.target,
    version: img.version,
    compatible: img.compatible,
    ...(img.replaces.length ? { replaces: img.replaces } : {}),
    ...(img.counter !== undefined ? { counter: img.counter } : {}),
    ...(img.expires !== undefined ? { expires: img.expires } : {}),
    ...(img.notes !== undefined ? { notes: img.notes } : {}),
    ...(img.notBefore !== undefined ? { notBefore: img.notBefore } : {}),
    ...(img.minCounter !== undefined ? { minCounter: img.minCounter } : {}),
  };
}

/**
 * The subjects of the signers in `want` that have no valid SignerInfo in `p7s` over
 * `manifest` (their certificate named, the message digest of these bytes, the signature
 * verifying with the certificate's key). Chains and revocation are the verifier's job
 * (ferry verify --trust); this says whether the campaign's signers signed these bytes.
 */
export function missingSignatures(p7s: Buffer, manifest: Buffer, want: readonly LoadedSigner[]): string[] {
  let sd;
  try {
    sd = parseSignedData(p7s);
  } catch {
    return want.map((w) => w.subject);
  }
  const digest = createHash('sha256').update(manifest).digest();
  return want
    .filter((w) => {
      const leaf = parseCertificate(w.signer.certificateChain[0]!, w.dir, 'KEY_INVALID');
      return !sd.signerInfos.some((si) => {
        if (si.sid.kind !== 'issuerSerial' || si.sid.serialHex !== w.serialHex || !si.sid.issuerDer.equals(w.issuerDer)) return false;
        if (!si.messageDigest.equals(digest)) return false;
        try {
          return cryptoVerify('sha256', si.signedAttrsDer, leaf.publicKey, si.signature);
        } catch {
          return false;
        }
      });
    })
    .map((w) => w.subject);
}
