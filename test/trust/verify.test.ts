import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { appendSignerInfo } from '../../src/trust/cms-build.js';
import { fromPem, toPem } from '../../src/trust/der-write.js';
import { verifyUpdate } from '../../src/trust/verify.js';
import { parseCertificate } from '../../src/trust/x509.js';
import { forgeSignedData } from './bad-cms.js';
import { DAY, issue, makeCrl, makePki, manifestBytes, manifestObject, NOW, signBytes, signerOf } from './helpers.js';

const pki = makePki();
const trust = { roots: [pki.root.cert] };
const m = manifestBytes(manifestObject());
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-verify-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function write(name: string, data: string | Buffer): string {
  const f = path.join(tmp, name);
  fs.writeFileSync(f, data);
  return f;
}

/** Stock OpenSSL's verdict (throws with its stderr when it refuses). */
function opensslVerify(sig: Buffer, roots: Buffer[]): void {
  execFileSync('openssl', ['cms', '-verify', '-binary', '-inform', 'DER', '-in', write('m.json.p7s', sig), '-content', write('m.json', m), '-CAfile', write('roots.pem', roots.map((r) => toPem(r, 'CERTIFICATE')).join('')), '-purpose', 'any', '-out', '/dev/null'], { stdio: 'pipe' });
}

describe('verifyUpdate', () => {
  it('accepts a manifest signed by a signer of the trusted root, and stock openssl agrees', async () => {
    const sig = await signBytes(m, [signerOf(pki.signer)]);
    const v = verifyUpdate(m, sig, trust, { compatible: 'acme,kiosk-v2', counterFloor: { kiosk: 5 } }, NOW);
    expect(v.manifest.id).toBe('kiosk-2.3.1');
    expect(v.signers).toMatchObject([{ subject: 'CN=Build Signer', issuer: 'CN=Test Root', anchor: 'CN=Test Root' }]);
    expect(v.signingTime).toBe(NOW.getTime());
    opensslVerify(sig, [pki.root.cert]);
    expect(verifyUpdate(m, sig, { roots: [new X509Certificate(pki.root.cert)] }, {}, NOW).signers).toHaveLength(1);
  });

  it('counts two distinct signers (build + QA, the second appended later) and openssl verifies both', async () => {
    const one = await signBytes(m, [signerOf(pki.signer)]);
    const two = await appendSignerInfo(one, m, signerOf(pki.qa), new Date(NOW.getTime() + 1000));
    const v = verifyUpdate(m, two, trust, { requiredSigners: 2 }, NOW);
    expect(v.signers.map((s) => s.subject).sort()).toEqual(['CN=Build Signer', 'CN=QA Signer']);
    opensslVerify(two, [pki.root.cert]);
    const out = execFileSync('openssl', ['cms', '-cmsout', '-print', '-inform', 'DER', '-in', write('two.p7s', two)]).toString();
    expect(out.match(/signerInfos:|d\.issuerAndSerialNumber/g)?.length).toBeGreaterThanOrEqual(3);
  });

  it('refuses to append the same signer twice', async () => {
    const one = await signBytes(m, [signerOf(pki.signer)]);
    await expect(appendSignerInfo(one, m, signerOf(pki.signer), NOW)).rejects.toMatchObject({ code: 'USAGE' });
  });

  it('accepts a chain through an intermediate CA, and openssl agrees', async () => {
    const sig = await signBytes(m, [signerOf(pki.interSigner, [pki.inter.cert])]);
    expect(verifyUpdate(m, sig, trust, {}, NOW).signers[0]!.subject).toBe('CN=Intermediate Signer');
    opensslVerify(sig, [pki.root.cert]);
  });

  it('reports the whole validated chain of a signer (signer, intermediate, root) with validity and SHA-256 fingerprints', async () => {
    const sig = await signBytes(m, [signerOf(pki.interSigner, [pki.inter.cert])]);
    const signer = verifyUpdate(m, sig, trust, {}, NOW).signers[0]!;
    // Node's own X.509 parser is the independent reference for every field.
    const ref = [pki.interSigner.cert, pki.inter.cert, pki.root.cert].map((der) => new X509Certificate(der));
    expect(signer.chain.map((c) => c.subject)).toEqual(ref.map((x) => x.subject));
    expect([signer.chain[0]!.subject, signer.chain[2]!.subject]).toEqual(['CN=Intermediate Signer', 'CN=Test Root']);
    ref.forEach((x, i) => {
      const c = signer.chain[i]!;
      expect(c.fingerprint).toBe(x.fingerprint256.replace(/:/g, '').toLowerCase());
      expect(c.serial.toUpperCase().replace(/^0+/, '')).toBe(x.serialNumber.toUpperCase().replace(/^0+/, ''));
      expect(Date.parse(c.notBefore)).toBe(Date.parse(x.validFrom));
      expect(Date.parse(c.notAfter)).toBe(Date.parse(x.validTo));
    });
    expect(signer.chain[0]!.issuer).toBe(signer.chain[1]!.subject);
    expect(signer.chain[1]!.issuer).toBe('CN=Test Root');
    expect(signer.notBefore).toBe(signer.chain[0]!.notBefore);
    expect(signer.fingerprint).toBe(signer.chain[0]!.fingerprint);
  });

  it('accepts a signer of a new root through a cross-certificate issued by the trusted root (root rotation)', async () => {
    const newRoot = issue({ profile: 'root', commonName: 'New Root', keyName: 'newroot', notAfter: new Date(NOW.getTime() + 3650 * DAY) });
    const cross = issue({ profile: 'ca', commonName: '', keyName: 'newroot', sameSubjectAs: newRoot.cert }, pki.root);
    const signer = issue({ profile: 'signer', commonName: 'New Signer', keyName: 'qa' }, newRoot);
    const sig = await signBytes(m, [signerOf(signer, [newRoot.cert])]);
    const v = verifyUpdate(m, sig, { ...trust, crossCerts: [cross.cert] }, {}, NOW);
    expect(v.signers[0]).toMatchObject({ subject: 'CN=New Signer', anchor: 'CN=Test Root' });
    // a signer may also embed the cross-certificate itself; stock openssl then builds the same path
    const withCross = await signBytes(m, [signerOf(signer, [cross.cert])]);
    expect(verifyUpdate(m, withCross, trust, {}, NOW).signers[0]!.anchor).toBe('CN=Test Root');
    opensslVerify(withCross, [pki.root.cert]);
  });

  it('accepts a CMS signature created by node-forge (interop)', () => {
    expect(verifyUpdate(m, forgeSignedData(m, pki.signer), trust, {}, NOW).manifest.id).toBe('kiosk-2.3.1');
  });

  it('accepts an ECDSA P-256 signer whose CMS was made by stock openssl', () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const keyFile = write('ec.key', ec.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
    write('root.key', pki.root.key.export({ type: 'pkcs8', format: 'pem' }) as string);
    write('root.pem', toPem(pki.root.cert, 'CERTIFICATE'));
    write('ext.cnf', '[v]\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=codeSigning\n');
    const run = (args: string[]) => execFileSync('openssl', args, { cwd: tmp, stdio: 'pipe' });
    run(['req', '-new', '-key', keyFile, '-subj', '/CN=EC Signer', '-out', 'ec.csr']);
    run(['x509', '-req', '-in', 'ec.csr', '-CA', 'root.pem', '-CAkey', 'root.key', '-set_serial', '4660', '-days', '30', '-extfile', 'ext.cnf', '-extensions', 'v', '-out', 'ec.pem']);
    write('m.json', m);
    run(['cms', '-sign', '-binary', '-md', 'sha256', '-in', 'm.json', '-signer', 'ec.pem', '-inkey', 'ec.key', '-outform', 'DER', '-out', 'ec.p7s']);
    const v = verifyUpdate(m, fs.readFileSync(path.join(tmp, 'ec.p7s')), trust, {}, new Date());
    expect(v.signers[0]!.subject).toBe('CN=EC Signer');
    expect(fromPem(fs.readFileSync(path.join(tmp, 'ec.pem'), 'utf8'), 'CERTIFICATE')).toHaveLength(1);
  });

  it('accepts a SignerInfo that names its certificate by subjectKeyIdentifier (openssl cms -sign -keyid)', () => {
    write('signer.pem', toPem(pki.signer.cert, 'CERTIFICATE'));
    write('signer.key', pki.signer.key.export({ type: 'pkcs8', format: 'pem' }) as string);
    write('m.json', m);
    execFileSync('openssl', ['cms', '-sign', '-binary', '-keyid', '-md', 'sha256', '-in', 'm.json', '-signer', 'signer.pem', '-inkey', 'signer.key', '-outform', 'DER', '-out', 'kid.p7s'], { cwd: tmp, stdio: 'pipe' });
    const sig = fs.readFileSync(path.join(tmp, 'kid.p7s'));
    expect(execFileSync('openssl', ['cms', '-cmsout', '-print', '-inform', 'DER', '-in', path.join(tmp, 'kid.p7s')]).toString()).toMatch(/d\.subjectKeyIdentifier/);
    expect(verifyUpdate(m, sig, trust, {}, NOW).signers[0]!.subject).toBe('CN=Build Signer');
  });

  it('works with the clock at 1970 when the device has a recent trusted time', async () => {
    const sig = await signBytes(m, [signerOf(pki.signer)]);
    const v = verifyUpdate(m, sig, { ...trust, trustedTime: NOW.getTime() - DAY }, {}, new Date(0));
    expect(v.effectiveTime).toBe(NOW.getTime() - DAY);
    expect(v.newTrustedTime).toBe(NOW.getTime());
  });

  it('never raises the trusted time past the signer certificate for a signingTime from the future', async () => {
    const sig = await signBytes(m, [signerOf(pki.signer)], new Date('2099-01-01T00:00:00Z'));
    const v = verifyUpdate(m, sig, trust, {}, NOW);
    expect(v.newTrustedTime).toBe(parseCertificate(pki.signer.cert).notAfter.getTime());
  });

  it('never raises the trusted time past any certificate of the path, so a far-dated signer under a cross-certificate cannot expire the device\'s root', async () => {
    // The old root (the device's anchor) and the cross-certificate end in 100 days; the new root and its signer live longer.
    const oldRoot = issue({ profile: 'root', commonName: 'Short Root', keyName: 'root', notAfter: new Date(NOW.getTime() + 100 * DAY) });
    const newRoot = issue({ profile: 'root', commonName: 'Long Root', keyName: 'newroot', notAfter: new Date(NOW.getTime() + 3000 * DAY) });
    const cross = issue({ profile: 'ca', commonName: '', keyName: 'newroot', sameSubjectAs: newRoot.cert, notAfter: new Date(NOW.getTime() + 100 * DAY) }, oldRoot);
    const signer = issue({ profile: 'signer', commonName: 'Long Signer', keyName: 'qa', notAfter: new Date(NOW.getTime() + 1000 * DAY) }, newRoot);
    const shortTrust = { roots: [oldRoot.cert] };
    const v = verifyUpdate(m, await signBytes(m, [signerOf(signer, [cross.cert])], new Date(NOW.getTime() + 500 * DAY)), shortTrust, {}, NOW);
    expect(v.newTrustedTime).toBe(parseCertificate(cross.cert).notAfter.getTime());
    // the device still verifies the next update at that trusted time
    const later = manifestBytes(manifestObject({ expires: new Date(NOW.getTime() + 200 * DAY).toISOString() }));
    const next = await signBytes(later, [signerOf(signer, [cross.cert])]);
    expect(verifyUpdate(later, next, { ...shortTrust, trustedTime: v.newTrustedTime }, {}, new Date(0)).signers[0]!.subject).toBe('CN=Long Signer');
  });

  it('allows reinstalling the same counter when the policy says so', async () => {
    const sig = await signBytes(m, [signerOf(pki.signer)]);
    expect(verifyUpdate(m, sig, trust, { counterFloor: { kiosk: 2000300019999 }, allowSameVersion: true }, NOW).manifest.target.counter).toBe(2000300019999);
  });

  it('caches a newer CRL from the stick and keeps the cached one when the stick carries an older CRL', async () => {
    const sig = await signBytes(m, [signerOf(pki.signer)]);
    const newer = makeCrl(pki.root, 3, [pki.qa]);
    expect(verifyUpdate(m, sig, { ...trust, cachedCrl: makeCrl(pki.root, 2, []), crlCandidates: [newer] }, {}, NOW).crlToCache).toEqual(newer);
    expect(verifyUpdate(m, sig, { ...trust, cachedCrl: makeCrl(pki.root, 3, []), crlCandidates: [makeCrl(pki.root, 2, [])] }, {}, NOW).crlToCache).toBeUndefined();
    expect(verifyUpdate(m, sig, { ...trust, crlCandidates: [newer] }, {}, NOW).crlToCache).toEqual(newer);
  });

  it('counts a good signer when another signer of the same signature is revoked (1-of-n)', async () => {
    const sig = await signBytes(m, [signerOf(pki.signer), signerOf(pki.qa)]);
    const v = verifyUpdate(m, sig, { ...trust, crlCandidates: [makeCrl(pki.root, 1, [pki.qa])] }, {}, NOW);
    expect(v.signers.map((s) => s.subject)).toEqual(['CN=Build Signer']);
  });

  it('our CRL is read by openssl, and openssl finds the revoked signer in it', () => {
    const crlFile = write('crl.pem', toPem(makeCrl(pki.root, 7, [pki.signer]), 'X509 CRL'));
    const text = execFileSync('openssl', ['crl', '-in', crlFile, '-noout', '-text', '-CAfile', write('root.pem', toPem(pki.root.cert, 'CERTIFICATE'))], { stdio: 'pipe' }).toString();
    expect(text).toMatch(/X509v3 CRL Number:\s*\n\s*7/);
    const r = (() => {
      try {
        execFileSync('openssl', ['verify', '-crl_check', '-CRLfile', crlFile, '-CAfile', path.join(tmp, 'root.pem'), write('s.pem', toPem(pki.signer.cert, 'CERTIFICATE'))], { stdio: 'pipe' });
        return 'accepted';
      } catch (e) {
        return String((e as { stdout?: Buffer }).stdout) + String((e as { stderr?: Buffer }).stderr);
      }
    })();
    expect(r).toMatch(/certificate revoked/);
  });
});
