/**
 * What `ferry inspect` shows of each signed update (issue 11, finding 15): version, counter,
 * compatible strings, expiry, the source an image was converted from, and every signer with
 * the validity of the certificate chain embedded in its signature, so a release engineer
 * sees what `rauc info` shows before a stick leaves. Nothing is checked against a trust
 * root here (inspect has none): `ferry verify --trust` does that. Pure, but for reading
 * the files through updates.ts (capped, hostile sticks refused).
 */
import { FerryError } from '../errors.js';
import { Caps } from '../oci/types.js';
import { issuedBy } from '../trust/chain.js';
import { parseSignedData, type ParsedSignerInfo } from '../trust/cms.js';
import { validateUpdateManifest } from '../trust/manifest.js';
import type { ImageSource } from '../trust/types.js';
import { parseCertificate, type ParsedCert } from '../trust/x509.js';
import { parseStrictJson } from '../util/json.js';
import { listMediaUpdates, type MediaUpdateFiles } from './updates.js';
import type { MediaSource } from './source.js';

/** One certificate of a signer's embedded chain. */
export interface ChainCertSummary {
  subject: string;
  issuer: string;
  notBefore: string;
  notAfter: string;
}

/** One signature of an update, as embedded (not verified against a root). */
export interface SignerSummary {
  subject: string;
  signingTime: string;
  /** The signer's certificate, then the CA certificates above it that the signature embeds. */
  chain: ChainCertSummary[];
  /** The issuer the embedded chain ends at: the root a device must trust. */
  root: string;
  /** The earliest notAfter in the chain: the signature is refused by devices after it. */
  chainEnd: string;
  /** Every certificate of the chain is within its validity now. */
  validNow: boolean;
}

/** One update manifest on the stick. */
export interface UpdateSummary {
  id: string;
  version?: string;
  counter?: number;
  compatible?: string[];
  created?: string;
  expires?: string;
  /** The image manifest digest it pins. */
  image?: string;
  /** Where the image came from when export converted it (finding 8). */
  source?: ImageSource;
  signers: SignerSummary[];
  /** The earlier of the expiry and the earliest chain end of its signers. */
  lastAccepted?: string;
  /** Why the update could not be read (unsigned, damaged, over a cap). */
  problem?: string;
}

function certOf(si: ParsedSignerInfo, certs: ParsedCert[]): ParsedCert | undefined {
  return certs.find((c) => (si.sid.kind === 'issuerSerial' ? c.serialHex === si.sid.serialHex && c.issuerDer.equals(si.sid.issuerDer) : c.subjectKeyId?.equals(si.sid.keyId)));
}

/** The signer's certificate and the embedded CAs above it, leaf first (at most as many as are embedded). */
function embeddedChain(leaf: ParsedCert, certs: ParsedCert[]): ParsedCert[] {
  const chain = [leaf];
  for (;;) {
    const top = chain[chain.length - 1]!;
    const up = certs.find((c) => !chain.includes(c) && issuedBy(top, c));
    if (!up || up.issuerDer.equals(up.subjectDer)) return chain;
    chain.push(up);
  }
}

function summarizeSigner(si: ParsedSignerInfo, certs: ParsedCert[], now: number): SignerSummary {
  const leaf = certOf(si, certs);
  if (!leaf) throw new FerryError('MALFORMED_SIGNATURE', "a signer's certificate is not embedded in the signature");
  const chain = embeddedChain(leaf, certs);
  const end = Math.min(...chain.map((c) => c.notAfter.getTime()));
  return {
    subject: leaf.subject,
    signingTime: si.signingTime.toISOString(),
    chain: chain.map((c) => ({ subject: c.subject, issuer: c.issuer, notBefore: c.notBefore.toISOString(), notAfter: c.notAfter.toISOString() })),
    root: chain[chain.length - 1]!.issuer,
    chainEnd: new Date(end).toISOString(),
    validNow: chain.every((c) => c.notBefore.getTime() <= now && now <= c.notAfter.getTime()),
  };
}

/** Summarise one update file pair (unverified: for display). */
export function summarizeUpdate(f: MediaUpdateFiles, now: Date): UpdateSummary {
  if (f.problem || !f.manifestBytes || !f.signatureBytes) return { id: f.id, signers: [], problem: f.problem?.message ?? 'unreadable' };
  const out: UpdateSummary = { id: f.id, signers: [] };
  try {
    const m = validateUpdateManifest(parseStrictJson(f.manifestBytes, Caps.updateManifest, 'update manifest'), `update manifest ${f.id}`);
    Object.assign(out, { version: m.target.version, counter: m.target.counter, compatible: m.target.compatible, created: m.created, expires: m.expires, image: m.image.manifest.digest });
    if (m.image.source) out.source = m.image.source;
    const sd = parseSignedData(f.signatureBytes);
    const certs = sd.certificates.map((c, i) => parseCertificate(c, `embedded certificate #${i + 1}`));
    out.signers = sd.signerInfos.map((si) => summarizeSigner(si, certs, now.getTime()));
    const ends = [Date.parse(m.expires), ...out.signers.map((s) => Date.parse(s.chainEnd))];
    out.lastAccepted = new Date(Math.min(...ends)).toISOString();
  } catch (e) {
    out.problem = e instanceof Error ? e.message : String(e);
  }
  return out;
}

/** Summaries of every update on the media, sorted by id. */
export async function inspectUpdates(media: string | MediaSource, now = new Date()): Promise<UpdateSummary[]> {
  const { updates } = await listMediaUpdates(media);
  return updates.map((u) => summarizeUpdate(u, now));
}
