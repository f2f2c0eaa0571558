import { execFileSync } from 'node:child_process';
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issuedBy } from '../../src/trust/chain.js';
import { fromPem } from '../../src/trust/der-write.js';
import { issueDeviceCertificate } from '../../src/trust/device-cert.js';
import { issuedByAsync } from '../../src/trust/issued-async.js';
import { readPrivateKey } from '../../src/trust/keys.js';
import { initRoot, readCaDir } from '../../src/trust/pki.js';
import { publicKeyId } from '../../src/trust/receipt-signature.js';
import { parseCertificate, type ParsedCert } from '../../src/trust/x509.js';

let dir: string;
const p = (...x: string[]) => path.join(dir, ...x);
const T0 = new Date('2026-11-01T00:00:00Z');
const cases: Array<[string, ParsedCert, ParsedCert]> = [];

/** A device certificate for a fresh key, issued by `issuer` with `key`, as DER. */
function deviceCert(issuer: ParsedCert, key: import('node:crypto').KeyObject, id: string): Buffer {
  const k = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const spkiDer = k.publicKey.export({ type: 'spki', format: 'der' });
  return issueDeviceCertificate({ request: { deviceId: id, publicKey: k.publicKey, spkiDer, keyId: publicKeyId(k.publicKey) }, issuer, issuerKey: key, notBefore: T0, notAfter: new Date(T0.getTime() + 86_400_000) });
}

/** The same certificate with one byte changed, `fromEnd` bytes from the end or in the first `text` (still parseable). */
function changed(der: Buffer, fromEnd: number | string): ParsedCert {
  const d = Buffer.from(der);
  const at = typeof fromEnd === 'string' ? d.indexOf(Buffer.from(fromEnd)) : d.length - fromEnd;
  d[at] ^= 0x01;
  return parseCertificate(d, 'changed certificate', 'KEY_INVALID');
}

beforeAll(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'ferry-issued-async-'));
  await initRoot({ out: p('rsa-ca'), name: 'RSA device CA', days: 3650 });
  await initRoot({ out: p('other-ca'), name: 'Other CA', days: 3650 });
  // an EC CA made by stock openssl: the ECDSA path
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', p('ec-key.pem'), '-out', p('ec-ca.pem'), '-days', '3650', '-subj', '/CN=EC device CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], { stdio: 'ignore' });
  const rsa = (await readCaDir(p('rsa-ca'))).cert;
  const rsaKey = await readPrivateKey(p('rsa-ca', 'key.pem'));
  const other = (await readCaDir(p('other-ca'))).cert;
  const ec = parseCertificate(fromPem(await fsp.readFile(p('ec-ca.pem'), 'utf8'), 'CERTIFICATE')[0]!, 'EC CA', 'KEY_INVALID');
  const ecKey = createPrivateKey(await fsp.readFile(p('ec-key.pem')));
  const rsaDev = deviceCert(rsa, rsaKey, 'rsa-dev');
  const ecDev = deviceCert(ec, ecKey, 'ec-dev');
  const parse = (d: Buffer) => parseCertificate(d, 'device certificate', 'KEY_INVALID');
  cases.push(
    ['an RSA CA and the certificate it issued', parse(rsaDev), rsa],
    ['an EC CA and the certificate it issued', parse(ecDev), ec],
    ['another CA', parse(rsaDev), other],
    ['an EC CA and a certificate of the RSA CA', parse(rsaDev), ec],
    ['an RSA certificate whose signature was changed', changed(rsaDev, 10), rsa],
    ['an EC certificate whose signature was changed', changed(ecDev, 5), ec],
    ['an RSA certificate whose signed part was changed', changed(rsaDev, 'rsa-dev'), rsa],
  );
}, 120_000);
afterAll(() => fsp.rm(dir, { recursive: true, force: true }));

describe('issuedByAsync', () => {
  it('answers exactly as issuedBy (OpenSSL X509_verify) for RSA and EC issuers, issued or not, changed or not', async () => {
    const answers = await Promise.all(cases.map(([, cert, ca]) => issuedByAsync(cert, ca)));
    expect(answers).toEqual(cases.map(([, cert, ca]) => issuedBy(cert, ca)));
    expect(Object.fromEntries(cases.map(([name], i) => [name, answers[i]]))).toEqual({
      'an RSA CA and the certificate it issued': true,
      'an EC CA and the certificate it issued': true,
      'another CA': false,
      'an EC CA and a certificate of the RSA CA': false,
      'an RSA certificate whose signature was changed': false,
      'an EC certificate whose signature was changed': false,
      'an RSA certificate whose signed part was changed': false,
    });
  });
});
