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
import { deviceCertIssuedAsync, readDeviceCertificate } from './device-cert-read.js';
import { issuedByAsync } from './issued-async.js';
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

/** Certificates whose signatures are checked at once: few parsed certificates stay alive at a time. */
const VERIFY_WINDOW = 64;

/** Read one register entry's DER; a string is why it cannot be used. */
function readEnrolmentDer(file: string): Buffer | string {
  try {
    // synchronous reads: 2,000 async open/fstat/read/close round trips were most of a report's start
    const [der] = fromPem(readSmallFileSync(file, 64 * 1024, 'device certificate').toString('utf8'), 'CERTIFICATE');
    return der ?? `${file}: no PEM certificate`;
  } catch (e) {
    return `${file}: ${(e as Error).message}`;
  }
}

/**
 * Check one register entry against the device CA: the quick reader for certificates in the
 * layout ferry issues (device-cert-read.ts), the strict reader and issuedByAsync for any other.
 * Resolves to [key id, enrolment] or why the entry cannot be used.
 */
function checkEnrolment(file: string, ca: ParsedCert): Promise<[string, Enrolment] | string> {
  const der = readEnrolmentDer(file);
  if (typeof der === 'string') return Promise.resolve(der);
  const quick = readDeviceCertificate(der);
  const issued = quick && deviceCertIssuedAsync(quick, ca);
  if (quick && issued) return issued.then((ok) => (ok ? [quick.keyId, { deviceId: quick.deviceId }] : `${file}: not issued by this device CA`));
  let cert: ParsedCert;
  try {
    cert = parseCertificate(der, file, 'KEY_INVALID');
  } catch (e) {
    return Promise.resolve(`${file}: ${(e as Error).message}`);
  }
  const entry: [string, Enrolment] = [`sha256:${cert.keyId}`, { deviceId: commonName(cert) }];
  return issuedByAsync(cert, ca).then((ok) => (ok ? entry : `${file}: not issued by this device CA`));
}

/**
 * Load `<device-ca>/cert.pem` and every certificate under devices/ it issued (others are listed
 * as problems, in file order). The signatures of one window of certificates are checked on the
 * thread pool while the next window is read and parsed.
 */
export async function loadEnrolments(caDir: string): Promise<EnrolmentRegister> {
  const ca = (await readCaDir(caDir)).cert;
  const dir = path.join(caDir, 'devices');
  const names = (await fsp.readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith('.pem')).sort();
  if (names.length > MAX_ENROLLED) throw new FerryError('LIMIT_EXCEEDED', `${dir} holds ${names.length} certificates, more than ${MAX_ENROLLED}`);
  const byKeyId = new Map<string, Enrolment>();
  const problems: string[] = [];
  const settle = async (window: Array<Promise<[string, Enrolment] | string>>) => {
    for (const o of await Promise.all(window)) {
      if (typeof o === 'string') problems.push(o);
      else byKeyId.set(...o);
    }
  };
  let previous: Array<Promise<[string, Enrolment] | string>> = [];
  for (let at = 0; at < names.length; at += VERIFY_WINDOW) {
    const window = names.slice(at, at + VERIFY_WINDOW).map((n) => checkEnrolment(path.join(dir, n), ca));
    await settle(previous);
    previous = window;
  }
  await settle(previous);
  return { ca, byKeyId, problems };
}
