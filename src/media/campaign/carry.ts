/**
 * The trust material a campaign carries (FERRY/trust/crl.pem, FERRY/trust/roots/*.pem,
 * DESIGN.md section 1) and the campaign record FERRY/campaign.json, which names the
 * campaign and its stick label for the packer and for receipts coming back. Each file is
 * written atomically and only when it differs (a re-run writes nothing).
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { FerryError, toFerryError } from '../../errors.js';
import { fromPem } from '../../trust/der-write.js';
import { crlNewer, parseCrl } from '../../trust/crl.js';
import { readFileCapped, writeFileAtomic } from '../../util/fsx.js';
import type { MediaLock } from '../lock.js';
import { mediaPaths } from '../store.js';
import { type Campaign, campaignUpdateId } from './types.js';

const PEM_CAP = 16 * 1024 * 1024;
/** Schema id of FERRY/campaign.json. */
export const CAMPAIGN_RECORD_SCHEMA = 'ferry.campaign/v1';

/** Where each carried file goes on the stick, with its bytes. */
export async function carriedFiles(c: Campaign, mediaRoot: string): Promise<{ file: string; bytes: Buffer; what: string }[]> {
  const trust = mediaPaths(mediaRoot).trust;
  const out: { file: string; bytes: Buffer; what: string }[] = [];
  if (c.crl !== undefined) out.push({ file: path.join(trust, 'crl.pem'), bytes: await readFileCapped(c.crl, PEM_CAP, 'CRL'), what: 'CRL' });
  for (const x of c.crossCertificates) out.push({ file: path.join(trust, 'roots', path.basename(x).replace(/(\.pem)?$/, '.pem')), bytes: await readFileCapped(x, PEM_CAP, 'cross-certificate'), what: 'cross-certificate' });
  out.push({ file: path.join(mediaPaths(mediaRoot).ferry, 'campaign.json'), bytes: campaignRecord(c), what: 'campaign record' });
  return out;
}

/** FERRY/campaign.json: the campaign's name, the stick label and the updates it carries (no build time: a re-run changes nothing). */
export function campaignRecord(c: Campaign): Buffer {
  const record = { schema: CAMPAIGN_RECORD_SCHEMA, name: c.name, ...(c.label !== undefined ? { label: c.label } : {}), updates: c.images.map(campaignUpdateId) };
  return Buffer.from(JSON.stringify(record, null, 2) + '\n');
}

/** Bytes of a file on the stick, or undefined when absent. */
export async function stickFile(file: string): Promise<Buffer | undefined> {
  return readFileCapped(file, PEM_CAP, 'file').catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT' || e.code === 'ENOTDIR') return undefined;
    throw e instanceof FerryError ? e : toFerryError(e, `cannot read ${file}`);
  });
}

/** A CRL on the stick that is newer than the campaign's (same issuer, higher cRLNumber) is never replaced by an older one. */
function refuseOlderCrl(file: string, have: Buffer, next: Buffer): void {
  const newest = (pem: Buffer) => fromPem(pem.toString('utf8'), 'X509 CRL').map((d) => parseCrl(d, file));
  const incoming = newest(next);
  for (const h of newest(have)) {
    if (incoming.every((n) => n.issuerDer.equals(h.issuerDer) && crlNewer(h, n))) {
      throw new FerryError('CRL_INVALID', `${file} is CRL #${h.crlNumber}, newer than the campaign's: put the newest CRL into the campaign (ferry pki revoke writes it to the root folder)`);
    }
  }
}

/** Write the carried files that differ; returns the ones written. */
export async function carryTrust(c: Campaign, mediaRoot: string, lock: MediaLock): Promise<string[]> {
  const written: string[] = [];
  for (const f of await carriedFiles(c, mediaRoot)) {
    const have = await stickFile(f.file);
    if (have?.equals(f.bytes)) continue;
    if (have && f.what === 'CRL') refuseOlderCrl(f.file, have, f.bytes);
    try {
      await fsp.mkdir(path.dirname(f.file), { recursive: true });
      await writeFileAtomic(f.file, f.bytes);
    } catch (e) {
      throw toFerryError(e, `cannot write the ${f.what} ${f.file}`);
    }
    lock.commit(); // a complete file, named: nothing to undo
    written.push(f.file);
  }
  return written;
}
