/**
 * Which CRLs count (DESIGN.md section 3): the device's cached CRL and any candidate
 * from the stick, each accepted only when signed by a trusted root (or a root the
 * device trusts through a valid cross-certificate). Per issuer the newest wins
 * (higher cRLNumber, then later thisUpdate); an older candidate is ignored, so a
 * stale CRL can never un-revoke a certificate. Pure.
 */
import { FerryError } from '../errors.js';
import { issuedBy } from './chain.js';
import { crlNewer, crlSignedBy, type ParsedCrl, parseCrl } from './crl.js';
import type { TrustMaterial } from './types.js';
import type { ParsedCert } from './x509.js';

/** The CRLs in force, and the candidate the device should cache (when newer than its own). */
export interface CrlSelection {
  crls: ParsedCrl[];
  crlToCache?: Buffer;
}

/** Parse, authenticate and order the cached CRL and the candidates. */
export function selectCrls(trust: TrustMaterial, anchors: ParsedCert[], cross: ParsedCert[]): CrlSelection {
  const issuers = [...anchors, ...cross.filter((c) => anchors.some((a) => issuedBy(c, a)))];
  const cached = trust.cachedCrl ? authenticate(parseCrl(trust.cachedCrl, 'the cached CRL'), issuers, 'the cached CRL') : undefined;
  const candidates = (trust.crlCandidates ?? []).map((d, i) => authenticate(parseCrl(d, `CRL candidate #${i + 1}`), issuers, `CRL candidate #${i + 1}`));
  const byIssuer = new Map<string, ParsedCrl>();
  for (const { crl, issuer } of cached ? [cached, ...candidates] : candidates) {
    const have = byIssuer.get(issuer);
    if (!have || crlNewer(crl, have)) byIssuer.set(issuer, crl);
  }
  let crlToCache: Buffer | undefined;
  if (cached) {
    const newest = byIssuer.get(cached.issuer);
    if (newest && newest !== cached.crl) crlToCache = newest.der;
  } else {
    const first = candidates[0];
    if (first) crlToCache = byIssuer.get(first.issuer)!.der;
  }
  return { crls: [...byIssuer.values()], ...(crlToCache ? { crlToCache } : {}) };
}

/** An authenticated CRL and the issuer it counts for. */
interface AuthenticCrl {
  crl: ParsedCrl;
  /**
   * Per issuer = per name AND key: a rotated root may keep the old root's name, and its
   * CRLs are numbered on their own; an old root's CRL must never replace the new one's.
   */
  issuer: string;
}

function authenticate(crl: ParsedCrl, issuers: ParsedCert[], what: string): AuthenticCrl {
  const by = issuers.find((i) => crlSignedBy(crl, i));
  if (!by) {
    throw new FerryError('CRL_INVALID', `${what} is not signed by a trusted root: the stick's FERRY/trust/crl.pem is forged or from another PKI; replace it with one from ferry pki revoke`);
  }
  return { crl, issuer: `${crl.issuerDer.toString('hex')}/${by.keyId}` };
}
