import { execFileSync } from 'node:child_process';
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issuedBy } from '../../src/trust/chain.js';
import { fromPem, toPem } from '../../src/trust/der-write.js';
import { issueDeviceCertificate } from '../../src/trust/device-cert.js';
import { deviceCertIssuedAsync, readDeviceCertificate } from '../../src/trust/device-cert-read.js';
import { enrolmentFile, loadEnrolments } from '../../src/trust/enroll.js';
import { readPrivateKey } from '../../src/trust/keys.js';
import { initRoot, readCaDir } from '../../src/trust/pki.js';
import { publicKeyId } from '../../src/trust/receipt-signature.js';
import { parseCertificate, type ParsedCert } from '../../src/trust/x509.js';

let dir: string;
const p = (...x: string[]) => path.join(dir, ...x);
const T0 = new Date('2026-11-01T00:00:00Z');
let rsa: ParsedCert;
let rsaKey: KeyObject;
let ec: ParsedCert;
let ecKey: KeyObject;

function deviceCert(issuer: ParsedCert, key: KeyObject, id: string): { der: Buffer; pub: KeyObject } {
  const k = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const spkiDer = k.publicKey.export({ type: 'spki', format: 'der' });
  const der = issueDeviceCertificate({ request: { deviceId: id, publicKey: k.publicKey, spkiDer, keyId: publicKeyId(k.publicKey) }, issuer, issuerKey: key, notBefore: T0, notAfter: new Date(T0.getTime() + 86_400_000) });
  return { der, pub: k.publicKey };
}

/** The strict answer: issuedBy on the parsed certificate, with its key id and common name; undefined when it does not parse. */
function strict(der: Buffer, ca: ParsedCert): { ok: boolean; keyId: string; deviceId: string } | undefined {
  let c: ParsedCert;
  try {
    c = parseCertificate(der, 'certificate', 'KEY_INVALID');
  } catch {
    return undefined;
  }
  return { ok: issuedBy(c, ca), keyId: `sha256:${c.keyId}`, deviceId: c.subject.replace(/^CN=/, '') };
}

beforeAll(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'ferry-device-cert-read-'));
  await initRoot({ out: p('rsa-ca'), name: 'RSA device CA', days: 3650 });
  rsa = (await readCaDir(p('rsa-ca'))).cert;
  rsaKey = await readPrivateKey(p('rsa-ca', 'key.pem'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', p('ec-key.pem'), '-out', p('ec-ca.pem'), '-days', '3650', '-subj', '/CN=EC device CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], { stdio: 'ignore' });
  ec = parseCertificate(fromPem(await fsp.readFile(p('ec-ca.pem'), 'utf8'), 'CERTIFICATE')[0]!, 'EC CA', 'KEY_INVALID');
  ecKey = createPrivateKey(await fsp.readFile(p('ec-key.pem')));
}, 120_000);
afterAll(() => fsp.rm(dir, { recursive: true, force: true }));

describe('readDeviceCertificate', () => {
  it('reads the device id and key id the strict reader reads, from certificates of RSA and EC device CAs', async () => {
    for (const [ca, key] of [[rsa, rsaKey], [ec, ecKey]] as const) {
      const { der, pub } = deviceCert(ca, key, 'kiosk-0042');
      const parts = readDeviceCertificate(der)!;
      expect({ deviceId: parts.deviceId, keyId: parts.keyId }).toEqual({ deviceId: 'kiosk-0042', keyId: publicKeyId(pub) });
      expect(strict(der, ca)).toEqual({ ok: true, keyId: parts.keyId, deviceId: parts.deviceId });
      expect(await deviceCertIssuedAsync(parts, ca)).toBe(true);
    }
  });

  it('agrees with the strict reader and X509_verify on every one-byte change of a certificate: never accepts one it refuses', async () => {
    for (const [ca, key] of [[rsa, rsaKey], [ec, ecKey]] as const) {
      const { der } = deviceCert(ca, key, 'dev-7');
      let quickChecked = 0;
      for (let at = 0; at < der.length; at++) {
        const d = Buffer.from(der);
        d[at] ^= 0x01;
        const parts = readDeviceCertificate(d);
        const issued = parts && deviceCertIssuedAsync(parts, ca);
        if (!parts || !issued) continue;
        quickChecked++;
        // a change the quick reader reads as a certificate of this CA must be one the strict path refuses too
        expect(await issued).toBe(false);
        expect(strict(d, ca)?.ok ?? false).toBe(false);
      }
      expect(quickChecked).toBeGreaterThan(der.length / 2);
    }
  }, 60_000);

  it('leaves to the strict reader what ferry does not issue: more than a common name, an unknown critical extension, another algorithm, damaged DER', () => {
    const { der } = deviceCert(rsa, rsaKey, 'dev-8');
    // openssl: a subject with an organisation, and an unknown critical extension
    execFileSync('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', p('o-key.pem'), '-out', p('o.csr'), '-subj', '/CN=dev-9/O=ACME'], { stdio: 'ignore' });
    execFileSync('openssl', ['x509', '-req', '-in', p('o.csr'), '-CA', p('ec-ca.pem'), '-CAkey', p('ec-key.pem'), '-out', p('o.pem'), '-days', '30', '-set_serial', '7'], { stdio: 'ignore' });
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', p('x-key.pem'), '-out', p('x.pem'), '-days', '30', '-subj', '/CN=dev-10', '-addext', '1.2.3.4=critical,ASN1:NULL'], { stdio: 'ignore' });
    const read = (f: string) => fromPem(readFileSync(p(f), 'utf8'), 'CERTIFICATE')[0]!;
    expect(readDeviceCertificate(read('o.pem'))).toBeUndefined();
    expect(readDeviceCertificate(read('x.pem'))).toBeUndefined();
    expect(readDeviceCertificate(Buffer.concat([der, Buffer.from([0])]))).toBeUndefined();
    expect(readDeviceCertificate(der.subarray(0, der.length - 1))).toBeUndefined();
    expect(readDeviceCertificate(Buffer.alloc(0))).toBeUndefined();
    // a certificate of the RSA CA checked against the EC CA: not one of the two (key type, algorithm) pairs
    expect(deviceCertIssuedAsync(readDeviceCertificate(der)!, ec)).toBeUndefined();
  });
});

describe('loadEnrolments with both readers', () => {
  it('enrols the certificates ferry issued and one stock openssl issued, and refuses a changed one', async () => {
    await initRoot({ out: p('reg-ca'), name: 'Register CA', days: 3650 });
    const ca = (await readCaDir(p('reg-ca'))).cert;
    const key = await readPrivateKey(p('reg-ca', 'key.pem'));
    await fsp.mkdir(p('reg-ca', 'devices'));
    const a = deviceCert(ca, key, 'dev-a');
    const b = deviceCert(ca, key, 'dev-b');
    await fsp.writeFile(enrolmentFile(p('reg-ca'), publicKeyId(a.pub)), toPem(a.der, 'CERTIFICATE'));
    const changed = Buffer.from(b.der);
    changed[changed.indexOf(Buffer.from('dev-b')) + 4] = 0x63; // dev-c: still a valid device id, no longer signed
    await fsp.writeFile(enrolmentFile(p('reg-ca'), publicKeyId(b.pub)), toPem(changed, 'CERTIFICATE'));
    // issued by the same CA with stock openssl, with an organisation in the subject: the strict reader's
    execFileSync('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', p('s-key.pem'), '-out', p('s.csr'), '-subj', '/CN=dev-s/O=ACME'], { stdio: 'ignore' });
    await fsp.writeFile(p('v3.cnf'), 'keyUsage=critical,digitalSignature\n');
    execFileSync('openssl', ['x509', '-req', '-in', p('s.csr'), '-CA', p('reg-ca', 'cert.pem'), '-CAkey', p('reg-ca', 'key.pem'), '-out', p('reg-ca', 'devices', 'openssl.pem'), '-days', '30', '-set_serial', '9', '-extfile', p('v3.cnf')], { stdio: 'ignore' });
    const reg = await loadEnrolments(p('reg-ca'));
    const sKey = createPrivateKey(await fsp.readFile(p('s-key.pem')));
    expect(Object.fromEntries([...reg.byKeyId].map(([k, e]) => [k, e.deviceId]))).toEqual({
      [publicKeyId(a.pub)]: 'dev-a',
      [publicKeyId(createPublicKey(sKey))]: strict(fromPem(await fsp.readFile(p('reg-ca', 'devices', 'openssl.pem'), 'utf8'), 'CERTIFICATE')[0]!, ca)!.deviceId,
    });
    expect(reg.problems).toEqual([expect.stringMatching(/not issued by this device CA/)]);
  }, 60_000);
});

