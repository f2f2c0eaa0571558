/**
 * Device enrolment at headquarters (issue 15): `ferry pki enroll-device` certifies a device's
 * receipt key from its PKCS#10 request, and receipts reports load the certificates back.
 * The device CA is its own root (`ferry pki init-root --out device-ca`), never the fleet root
 * the devices trust for updates: its key is used at every enrolment, and a CA below the fleet
 * root could issue code-signing certificates devices would accept. Each issued certificate is
 * recorded as `<device-ca>/devices/<key id hex>.pem`, the enrolment register reports read.
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { FerryError } from '../errors.js';
import { writeFileAtomic } from '../util/fsx.js';
import { readSmallFileSync } from '../util/read-sync.js';
import { fromPem, toPem } from './der-write.js';
import { issueDeviceCertificate, parseDeviceCsr } from './device-cert.js';
import { readPem, readPrivateKey } from './keys.js';
import { readCaDir } from './pki.js';
import { issuedBy } from './chain.js';
import { parseCertificate, type ParsedCert } from './x509.js';

const DAY = 86_400_000;
/** Enrolled devices a register may hold (a report reads them all). */
const MAX_ENROLLED = 100_000;

/** What enroll-device issued. */
export interface EnrollResult {
  deviceId: string;
  keyId: string;
  certPath: string;
  recordedAt: string;
  notAfter: string;
  fingerprint: string;
}

/** The register file for a key id ("sha256:<hex>"). */
export function enrolmentFile(caDir: string, keyId: string): string {
  return path.join(caDir, 'devices', `${keyId.replace(/^sha256:/, '')}.pem`);
}

/** `ferry pki enroll-device`: certify the key in a device's request with the device CA. */
export async function enrollDevice(req: { caDir: string; caPassphrase?: string; csrFile: string; days: number; out?: string; now?: Date }): Promise<EnrollResult> {
  if (!Number.isSafeInteger(req.days) || req.days < 1 || req.days > 36_500) throw new FerryError('USAGE', `--days ${req.days} is not a number of days between 1 and 36500`);
  const now = req.now ?? new Date();
  const ders = fromPem(await readPem(req.csrFile, 'device request'), 'CERTIFICATE REQUEST');
  if (ders.length !== 1) throw new FerryError('KEY_INVALID', `${req.csrFile} holds ${ders.length} certificate requests, expected one (ferry device init --csr-out wrote it)`);
  const request = parseDeviceCsr(ders[0]!, req.csrFile);
  const ca = await readCaDir(req.caDir);
  const key = await readPrivateKey(path.join(req.caDir, 'key.pem'), req.caPassphrase, '--ca-passphrase-env VAR or --ca-passphrase-file FILE');
  const notAfter = new Date(Math.min(now.getTime() + req.days * DAY, ca.cert.notAfter.getTime()));
  const der = issueDeviceCertificate({ request, issuer: ca.cert, issuerKey: key, notBefore: new Date(now.getTime() - 60_000), notAfter });
  const cert = parseCertificate(der, 'new device certificate', 'INTERNAL');
  if (!issuedBy(cert, ca.cert)) throw new FerryError('INTERNAL', 'the new device certificate does not verify with the device CA');
  const recorded = enrolmentFile(req.caDir, request.keyId);
  await fsp.mkdir(path.dirname(recorded), { recursive: true, mode: 0o755 });
  await writeFileAtomic(recorded, toPem(der, 'CERTIFICATE'));
  if (req.out) await writeFileAtomic(req.out, toPem(der, 'CERTIFICATE'));
  return { deviceId: request.deviceId, keyId: request.keyId, certPath: req.out ?? recorded, recordedAt: recorded, notAfter: cert.notAfter.toISOString(), fingerprint: cert.fingerprint };
}

/**
 * One enrolled device key. The certificate is checked and then dropped: a report loads 2,000
 * of them, and keeping every parsed certificate alive cost more in garbage collection than
 * parsing them did.
 */
export interface Enrolment {
  deviceId: string;
}

/** The enrolment register as data for the report: key id → device; problems found while loading. */
export interface EnrolmentRegister {
  ca: ParsedCert;
  byKeyId: Map<string, Enrolment>;
  problems: string[];
}

/** The common name of a device certificate (its device id). */
function commonName(c: ParsedCert): string {
  const m = /^CN=(.*)$/.exec(c.subject);
  return m ? m[1]! : '';
}

/** Load `<device-ca>/cert.pem` and every certificate under devices/ it issued (others are listed as problems). */
export async function loadEnrolments(caDir: string): Promise<EnrolmentRegister> {
  const ca = (await readCaDir(caDir)).cert;
  const dir = path.join(caDir, 'devices');
  const names = (await fsp.readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith('.pem')).sort();
  if (names.length > MAX_ENROLLED) throw new FerryError('LIMIT_EXCEEDED', `${dir} holds ${names.length} certificates, more than ${MAX_ENROLLED}`);
  const byKeyId = new Map<string, Enrolment>();
  const problems: string[] = [];
  for (const n of names) {
    const file = path.join(dir, n);
    try {
      // synchronous reads: 2,000 async open/fstat/read/close round trips were most of a report's start
      const [der] = fromPem(readSmallFileSync(file, 64 * 1024, 'device certificate').toString('utf8'), 'CERTIFICATE');
      if (!der) throw new Error('no PEM certificate');
      const cert = parseCertificate(der, file, 'KEY_INVALID');
      if (!issuedBy(cert, ca)) throw new Error('not issued by this device CA');
      byKeyId.set(`sha256:${cert.keyId}`, { deviceId: commonName(cert) });
    } catch (e) {
      problems.push(`${file}: ${(e as Error).message}`);
    }
  }
  return { ca, byKeyId, problems };
}
