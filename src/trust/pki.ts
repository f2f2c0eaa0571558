/**
 * The headquarters PKI (I/O shell behind `ferry pki`): an offline root CA,
 * intermediate CAs, code-signing certificates, cross-certificates for root
 * rotation, and the root-signed CRL on the stick. A CA directory holds key.pem,
 * cert.pem and (for intermediates and signers) chain.pem.
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { FerryError, toFerryError } from '../errors.js';
import { exists, readFileCapped, writeFileAtomic } from '../util/fsx.js';
import type { CertSpec } from './cert-build.js';

/** node-forge (certificate building) loads only for the pki commands: every other command, boot-check included, starts sooner. */
const createCertificate = async (spec: CertSpec): Promise<Buffer> => (await import('./cert-build.js')).createCertificate(spec);
import { issuedBy } from './chain.js';
import { buildCrl, crlSignedBy, parseCrl } from './crl.js';
import { fromPem, toPem } from './der-write.js';
import { generateRsaKey, readCertificates, readPrivateKey, writeCertificates, writePrivateKey } from './keys.js';
import { parseCertificate, type ParsedCert } from './x509.js';

const DAY = 86_400_000;

/** What a PKI command made. */
export interface PkiResult {
  path: string;
  subject: string;
  fingerprint: string;
  notAfter: string;
}

function result(p: string, der: Uint8Array): PkiResult {
  const c = parseCertificate(der, 'certificate', 'KEY_INVALID');
  return { path: p, subject: c.subject, fingerprint: c.fingerprint, notAfter: c.notAfter.toISOString() };
}

function checkDays(days: number): void {
  if (!Number.isSafeInteger(days) || days < 1 || days > 36_500) throw new FerryError('USAGE', `--days ${days} is not a number of days between 1 and 36500`);
}

/** `ferry pki init-root`: a new self-signed root CA in `out` (key.pem, cert.pem). */
export async function initRoot(req: { out: string; name?: string; days?: number; passphrase?: string; keyBits?: number; now?: Date }): Promise<PkiResult> {
  const days = req.days ?? 7300;
  checkDays(days);
  const now = req.now ?? new Date();
  await fsp.mkdir(req.out, { recursive: true, mode: 0o700 });
  const key = generateRsaKey(req.keyBits);
  const der = await createCertificate({
    profile: 'root',
    commonName: req.name ?? 'ferry root CA',
    publicKey: key,
    signingKey: key,
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: new Date(now.getTime() + days * DAY),
  });
  await writePrivateKey(path.join(req.out, 'key.pem'), key, req.passphrase);
  await writeCertificates(path.join(req.out, 'cert.pem'), [der]);
  return result(path.join(req.out, 'cert.pem'), der);
}

/** A CA folder's certificate and chain. */
export interface CaDir {
  cert: ParsedCert;
  /** Certificates between this CA and the root (empty for a root). */
  chain: Buffer[];
}

/** Read a CA folder (cert.pem, and chain.pem below a root); refuses a certificate that is no CA. */
export async function readCaDir(dir: string): Promise<CaDir> {
  const [der] = await readCertificates(path.join(dir, 'cert.pem'), 'CA certificate');
  const cert = parseCertificate(der!, `${dir}/cert.pem`, 'KEY_INVALID');
  if (!cert.isCA) throw new FerryError('USAGE', `${dir} is not a CA (basicConstraints cA is not set): issue from a root or from ferry pki issue-ca`);
  const selfSigned = cert.subjectDer.equals(cert.issuerDer);
  const chainFile = path.join(dir, 'chain.pem');
  const chain = selfSigned ? [] : [cert.der, ...((await exists(chainFile)) ? await readCertificates(chainFile) : [])];
  return { cert, chain };
}

/** `ferry pki issue-signer` / `issue-ca`: a key and certificate issued by the CA in `issuerDir`. */
export async function issueCertificate(req: {
  issuerDir: string;
  issuerPassphrase?: string;
  profile: 'signer' | 'ca';
  name: string;
  days: number;
  out: string;
  passphrase?: string;
  pathLen?: number;
  now?: Date;
}): Promise<PkiResult> {
  checkDays(req.days);
  const now = req.now ?? new Date();
  const issuer = await readCaDir(req.issuerDir);
  const issuerKey = await readPrivateKey(path.join(req.issuerDir, 'key.pem'), req.issuerPassphrase, '--root-passphrase-env VAR or --root-passphrase-file FILE (the issuing CA key\'s passphrase)');
  const notAfter = new Date(now.getTime() + req.days * DAY);
  if (notAfter > issuer.cert.notAfter) {
    throw new FerryError('USAGE', `--days ${req.days} would outlive the issuing CA (valid until ${issuer.cert.notAfter.toISOString()}): choose fewer days`);
  }
  await fsp.mkdir(req.out, { recursive: true, mode: 0o700 });
  const key = generateRsaKey();
  const der = await createCertificate({
    profile: req.profile,
    commonName: req.name,
    publicKey: key,
    signingKey: issuerKey,
    issuerCert: issuer.cert.der,
    notBefore: new Date(now.getTime() - 60_000),
    notAfter,
    ...(req.pathLen !== undefined ? { pathLen: req.pathLen } : {}),
  });
  await writePrivateKey(path.join(req.out, 'key.pem'), key, req.passphrase);
  await writeCertificates(path.join(req.out, 'cert.pem'), [der]);
  if (issuer.chain.length) await writeCertificates(path.join(req.out, 'chain.pem'), issuer.chain);
  return result(path.join(req.out, 'cert.pem'), der);
}

/**
 * `ferry pki cross-sign`: certify the new root's subject and key with the old root,
 * so devices that trust only the old root accept signers of the new one. Written
 * to `out`, and to `<media>/FERRY/trust/roots/` when a media root is given.
 */
export async function crossSign(req: { oldRootDir: string; oldRootPassphrase?: string; newRootDir: string; out: string; mediaRoot?: string; days?: number; now?: Date }): Promise<PkiResult> {
  const now = req.now ?? new Date();
  const oldRoot = await readCaDir(req.oldRootDir);
  const oldKey = await readPrivateKey(path.join(req.oldRootDir, 'key.pem'), req.oldRootPassphrase);
  const [newDer] = await readCertificates(path.join(req.newRootDir, 'cert.pem'), 'new root certificate');
  const newRoot = parseCertificate(newDer!, 'new root certificate', 'KEY_INVALID');
  const notAfter = new Date(Math.min(oldRoot.cert.notAfter.getTime(), req.days ? now.getTime() + req.days * DAY : Infinity, newRoot.notAfter.getTime()));
  const der = await createCertificate({
    profile: 'ca',
    commonName: '',
    sameSubjectAs: newRoot.der,
    publicKey: newRoot.publicKey,
    signingKey: oldKey,
    issuerCert: oldRoot.cert.der,
    notBefore: new Date(now.getTime() - 60_000),
    notAfter,
  });
  await writeCertificates(req.out, [der]);
  if (req.mediaRoot) {
    const dir = path.join(req.mediaRoot, 'FERRY', 'trust', 'roots');
    await fsp.mkdir(dir, { recursive: true });
    await writeCertificates(path.join(dir, `cross-${newRoot.fingerprint.slice(0, 16)}.pem`), [der]);
  }
  return result(req.out, der);
}

/** What `ferry pki revoke` wrote. */
export interface RevokeResult {
  crlPaths: string[];
  crlNumber: string;
  revokedSerials: string[];
}

/**
 * `ferry pki revoke`: add a certificate to the root's CRL (accumulating every earlier
 * revocation found in the root directory or on the stick, with a higher cRLNumber)
 * and write it to `<root>/crl.pem` and `<media>/FERRY/trust/crl.pem`.
 */
export async function revokeCertificate(req: { rootDir: string; rootPassphrase?: string; certFile?: string; mediaRoot?: string; nextUpdateDays?: number; now?: Date }): Promise<RevokeResult> {
  const now = req.now ?? new Date();
  const root = await readCaDir(req.rootDir);
  const key = await readPrivateKey(path.join(req.rootDir, 'key.pem'), req.rootPassphrase);
  const targets = [path.join(req.rootDir, 'crl.pem'), ...(req.mediaRoot ? [path.join(req.mediaRoot, 'FERRY', 'trust', 'crl.pem')] : [])];
  const revoked = new Map<string, Date>();
  let number = 0n;
  for (const file of targets) {
    if (!(await exists(file))) continue;
    for (const der of fromPem((await readFileCapped(file, 16 * 1024 * 1024, 'CRL')).toString('utf8'), 'X509 CRL')) {
      const crl = parseCrl(der, file);
      if (!crlSignedBy(crl, root.cert)) throw new FerryError('CRL_INVALID', `${file} is not a CRL of this root: remove it or use the matching --root`);
      for (const [s, d] of crl.revoked) if (!revoked.has(s)) revoked.set(s, d);
      if (crl.crlNumber > number) number = crl.crlNumber;
    }
  }
  if (req.certFile) {
    const [der] = await readCertificates(req.certFile, 'certificate to revoke');
    const cert = parseCertificate(der!, req.certFile, 'KEY_INVALID');
    // a root on its own CRL makes openssl and RAUC refuse every signer while ferry ignores it: never write one
    if (cert.fingerprint === root.cert.fingerprint || cert.subjectDer.equals(cert.issuerDer)) {
      throw new FerryError('USAGE', `${req.certFile} is a root certificate: a root cannot be revoked by its own CRL; to retire it, rotate to a new root (ferry pki cross-sign) and remove it from the devices' trust folder`);
    }
    if (!issuedBy(cert, root.cert)) throw new FerryError('USAGE', `${req.certFile} was not issued by this root: revoke it with the CA that issued it, or revoke that intermediate CA`);
    if (!revoked.has(cert.serialHex)) revoked.set(cert.serialHex, now);
  }
  const days = req.nextUpdateDays ?? 365;
  const crl = buildCrl({ issuer: root.cert, crlNumber: number + 1n, thisUpdate: now, nextUpdate: new Date(now.getTime() + days * DAY), revoked }, key);
  // the stick first, the root folder's record last: a failed stick write leaves HQ's CRL unchanged
  // (nothing claims a revocation the devices never got); a failed record write is repaired by
  // the next revoke, which reads the stick's CRL back in
  for (const file of [...targets.slice(1), targets[0]!]) {
    try {
      await fsp.mkdir(path.dirname(file), { recursive: true });
      await writeFileAtomic(file, toPem(crl, 'X509 CRL'));
    } catch (e) {
      throw toFerryError(e, `cannot write the CRL ${file}${file === targets[0] ? '' : ' (the root folder\'s CRL was not changed)'}`);
    }
  }
  return { crlPaths: targets, crlNumber: (number + 1n).toString(), revokedSerials: [...revoked.keys()] };
}

/**
 * `ferry pki publish-crl`: put the root's current CRL (`<root>/crl.pem`) on a stick
 * without revoking anything. A stick whose CRL is newer (a higher cRLNumber) is refused:
 * run revoke with this root and stick to merge them.
 */
export async function publishCrl(req: { rootDir: string; mediaRoot: string }): Promise<{ crlPath: string; crlNumber: string; revokedSerials: string[] }> {
  const root = await readCaDir(req.rootDir);
  const source = path.join(req.rootDir, 'crl.pem');
  if (!(await exists(source))) throw new FerryError('USAGE', `${source} does not exist: this root has revoked nothing yet (ferry pki revoke writes it)`);
  const pem = (await readFileCapped(source, 16 * 1024 * 1024, 'CRL')).toString('utf8');
  const ders = fromPem(pem, 'X509 CRL');
  if (ders.length !== 1) throw new FerryError('CRL_INVALID', `${source} holds ${ders.length} CRLs, expected one`);
  const crl = parseCrl(ders[0]!, source);
  if (!crlSignedBy(crl, root.cert)) throw new FerryError('CRL_INVALID', `${source} is not a CRL of this root: use the matching --root`);
  const target = path.join(req.mediaRoot, 'FERRY', 'trust', 'crl.pem');
  if (await exists(target)) {
    for (const der of fromPem((await readFileCapped(target, 16 * 1024 * 1024, 'CRL')).toString('utf8'), 'X509 CRL')) {
      const have = parseCrl(der, target);
      if (crlSignedBy(have, root.cert) && have.crlNumber > crl.crlNumber) {
        throw new FerryError('CRL_INVALID', `${target} is CRL #${have.crlNumber}, newer than the root folder's #${crl.crlNumber}: run ferry pki revoke with this --root and --media to merge them`);
      }
    }
  }
  await fsp.mkdir(path.dirname(target), { recursive: true });
  await writeFileAtomic(target, pem);
  return { crlPath: target, crlNumber: crl.crlNumber.toString(), revokedSerials: [...crl.revoked.keys()] };
}
