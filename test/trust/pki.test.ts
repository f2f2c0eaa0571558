import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCrl } from '../../src/trust/crl.js';
import { fromPem } from '../../src/trust/der-write.js';
import { readPassphrase } from '../../src/trust/keys.js';
import { loadTrustMaterial } from '../../src/trust/load.js';
import { crossSign, initRoot, issueCertificate, revokeCertificate } from '../../src/trust/pki.js';
import { parseCertificate } from '../../src/trust/x509.js';

let tmp: string;
const p = (...x: string[]) => path.join(tmp, ...x);
const cert = (f: string) => parseCertificate(fromPem(fs.readFileSync(f, 'utf8'), 'CERTIFICATE')[0]!);

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-pki-'));
  await initRoot({ out: p('root'), name: 'Unit Root', days: 3650, passphrase: 'rootpw' });
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('the headquarters PKI', () => {
  it('makes a root CA as openssl expects one: RSA-3072, self-signed CA, keyCertSign + cRLSign, key mode 0600', () => {
    const text = execFileSync('openssl', ['x509', '-in', p('root', 'cert.pem'), '-noout', '-text']).toString();
    expect(text).toMatch(/Public-Key: \(3072 bit\)/);
    expect(text).toMatch(/Basic Constraints: critical\s*\n\s*CA:TRUE/);
    expect(text).toMatch(/Key Usage: critical\s*\n\s*Certificate Sign, CRL Sign/);
    expect(fs.statSync(p('root', 'key.pem')).mode & 0o777).toBe(0o600);
    execFileSync('openssl', ['verify', '-CAfile', p('root', 'cert.pem'), p('root', 'cert.pem')]);
  });

  it('keeps non-ASCII names byte-exact from root to signer and cross-certificate (forge UTF8String round trip)', async () => {
    await initRoot({ out: p('umlaut'), name: 'Qualitätssicherung Zürich' });
    await issueCertificate({ issuerDir: p('umlaut'), profile: 'signer', name: 'Prüfer', days: 5, out: p('umlaut-signer') });
    expect(cert(p('umlaut-signer', 'cert.pem')).issuer).toBe('CN=Qualitätssicherung Zürich');
    execFileSync('openssl', ['verify', '-CAfile', p('umlaut', 'cert.pem'), p('umlaut-signer', 'cert.pem')]);
    await crossSign({ oldRootDir: p('root'), oldRootPassphrase: 'rootpw', newRootDir: p('umlaut'), out: p('umlaut-cross.pem') });
    expect(cert(p('umlaut-cross.pem')).subjectDer).toEqual(cert(p('umlaut', 'cert.pem')).subjectDer);
  });

  it('refuses to overwrite an existing root key', async () => {
    await expect(initRoot({ out: p('root') })).rejects.toMatchObject({ code: 'USAGE' });
  });

  it('issues an intermediate and a signer below it whose chain openssl verifies', async () => {
    await issueCertificate({ issuerDir: p('root'), issuerPassphrase: 'rootpw', profile: 'ca', name: 'Unit CA', days: 700, out: p('ca'), pathLen: 0 });
    await issueCertificate({ issuerDir: p('ca'), profile: 'signer', name: 'Unit Signer', days: 30, out: p('signer') });
    expect(cert(p('ca', 'cert.pem'))).toMatchObject({ isCA: true, pathLen: 0 });
    expect(cert(p('signer', 'cert.pem'))).toMatchObject({ isCA: false, extKeyUsage: ['1.3.6.1.5.5.7.3.3'] });
    expect(fromPem(fs.readFileSync(p('signer', 'chain.pem'), 'utf8'), 'CERTIFICATE')).toHaveLength(1);
    const out = execFileSync('openssl', ['verify', '-CAfile', p('root', 'cert.pem'), '-untrusted', p('signer', 'chain.pem'), p('signer', 'cert.pem')]).toString();
    expect(out).toMatch(/OK/);
  });

  it('refuses a signer that would outlive its CA, and a wrong root passphrase', async () => {
    await expect(issueCertificate({ issuerDir: p('ca'), profile: 'signer', name: 'x', days: 5000, out: p('long') })).rejects.toMatchObject({ code: 'USAGE' });
    await expect(issueCertificate({ issuerDir: p('root'), issuerPassphrase: 'nope', profile: 'signer', name: 'x', days: 5, out: p('x') })).rejects.toMatchObject({ code: 'KEY_INVALID' });
    await expect(issueCertificate({ issuerDir: p('signer'), profile: 'signer', name: 'x', days: 5, out: p('y') })).rejects.toMatchObject({ code: 'USAGE' });
  });

  it('cross-signs a new root: same subject and key, issued by the old root, and openssl chains a new signer through it', async () => {
    await initRoot({ out: p('root2'), name: 'Unit Root 2' });
    await issueCertificate({ issuerDir: p('root2'), profile: 'signer', name: 'Signer 2', days: 30, out: p('signer2') });
    await crossSign({ oldRootDir: p('root'), oldRootPassphrase: 'rootpw', newRootDir: p('root2'), out: p('cross.pem'), mediaRoot: p('stick') });
    const x = cert(p('cross.pem'));
    const r2 = cert(p('root2', 'cert.pem'));
    expect(x.subjectDer).toEqual(r2.subjectDer);
    expect(x.keyId).toBe(r2.keyId);
    expect(x.issuer).toBe('CN=Unit Root');
    execFileSync('openssl', ['verify', '-CAfile', p('root', 'cert.pem'), '-untrusted', p('cross.pem'), p('signer2', 'cert.pem')]);
    expect(fs.readdirSync(p('stick', 'FERRY', 'trust', 'roots'))).toHaveLength(1);
  });

  it('accumulates revocations in a CRL whose number rises, and refuses a CRL of another root', async () => {
    const r1 = await revokeCertificate({ rootDir: p('root'), rootPassphrase: 'rootpw', certFile: p('ca', 'cert.pem'), mediaRoot: p('stick') });
    fs.rmSync(p('root', 'crl.pem')); // the stick's copy alone must carry the history forward
    const r2 = await revokeCertificate({ rootDir: p('root'), rootPassphrase: 'rootpw', certFile: p('cross.pem'), mediaRoot: p('stick') });
    expect([r1.crlNumber, r2.crlNumber]).toEqual(['1', '2']);
    const crl = parseCrl(fromPem(fs.readFileSync(p('stick', 'FERRY', 'trust', 'crl.pem'), 'utf8'), 'X509 CRL')[0]!);
    expect([...crl.revoked.keys()].sort()).toEqual([cert(p('ca', 'cert.pem')).serialHex, cert(p('cross.pem')).serialHex].sort());
    expect(fs.readFileSync(p('root', 'crl.pem'))).toEqual(fs.readFileSync(p('stick', 'FERRY', 'trust', 'crl.pem')));
    await expect(revokeCertificate({ rootDir: p('root2'), certFile: p('signer2', 'cert.pem'), mediaRoot: p('stick') })).rejects.toMatchObject({ code: 'CRL_INVALID' });
    await expect(revokeCertificate({ rootDir: p('root'), rootPassphrase: 'rootpw', certFile: p('signer', 'cert.pem') })).rejects.toThrow(/not issued by this root/);
  });

  it('reads passphrases only from a variable or a file', async () => {
    fs.writeFileSync(p('pw.txt'), 'from file\n');
    expect(await readPassphrase({ file: p('pw.txt') })).toBe('from file');
    expect(await readPassphrase({ env: 'PW' }, { PW: 'from env' })).toBe('from env');
    await expect(readPassphrase({ env: 'MISSING' }, {})).rejects.toMatchObject({ code: 'PASSPHRASE_REQUIRED' });
    expect(await readPassphrase({})).toBeUndefined();
  });
});

describe('loadTrustMaterial', () => {
  it('loads roots, cross-certificates and the cached CRL, skipping AppleDouble files', async () => {
    const t = p('trust');
    fs.mkdirSync(path.join(t, 'roots'), { recursive: true });
    fs.mkdirSync(path.join(t, 'cross'), { recursive: true });
    fs.copyFileSync(p('root', 'cert.pem'), path.join(t, 'roots', 'root.pem'));
    fs.writeFileSync(path.join(t, 'roots', '._root.pem'), 'junk');
    fs.copyFileSync(p('cross.pem'), path.join(t, 'cross', 'cross.pem'));
    fs.copyFileSync(p('stick', 'FERRY', 'trust', 'crl.pem'), path.join(t, 'crl.pem'));
    const m = await loadTrustMaterial(t, { trustedTime: 123 });
    expect([m.roots.length, m.crossCerts?.length, m.cachedCrl !== undefined, m.trustedTime]).toEqual([1, 1, true, 123]);
    const overridden = await loadTrustMaterial(t, { cachedCrlPem: '' });
    expect(overridden.cachedCrl).toBeUndefined();
  });

  it('says what to do when the trust directory or its root is missing', async () => {
    await expect(loadTrustMaterial(p('nope'))).rejects.toMatchObject({ code: 'TRUST_INVALID' });
    fs.mkdirSync(p('empty-trust'));
    await expect(loadTrustMaterial(p('empty-trust'))).rejects.toThrow(/roots\/\*\.pem/);
  });
});
