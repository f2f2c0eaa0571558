/**
 * The trust workflow through the built CLI: a PKI with an encrypted root, export with
 * --signer, a QA co-signature with `ferry sign`, stock openssl verifying both
 * signatures, device-side verification of the stick (signatures, then every blob),
 * revocation, and root rotation through a cross-certificate carried on the stick.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyMediaUpdates } from '../../src/media/verify-updates.js';
import { loadTrustMaterial } from '../../src/trust/load.js';
import { buildSamplesInTemp, type SampleImages } from '../helpers/samples.js';

const NODE = path.resolve('node_modules/.bin/node');
const CLI = path.resolve('dist/src/cli/main.js');
let s: SampleImages & { dir: string };
let d: (p: string) => string;
const env = { ...process.env, ROOT_PASS: 'correct horse battery staple' };

function ferry(...args: string[]): string {
  return execFileSync(NODE, [CLI, ...args], { encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'pipe'] });
}

function ferryFails(...args: string[]): { status: number | null; stderr: string } {
  const r = spawnSync(NODE, [CLI, ...args], { encoding: 'utf8', env });
  return { status: r.status, stderr: r.stderr };
}

beforeAll(async () => {
  s = await buildSamplesInTemp('ferry-trust-e2e-');
  d = (p) => path.join(s.dir, p);
  fs.writeFileSync(d('root-pass.txt'), 'correct horse battery staple\n');
  ferry('pki', 'init-root', '--out', d('root'), '--name', 'ACME Root', '--passphrase-file', d('root-pass.txt'));
  ferry('pki', 'issue-signer', '--root', d('root'), '--name', 'build signer', '--days', '365', '--out', d('build'), '--root-passphrase-env', 'ROOT_PASS');
  ferry('pki', 'issue-ca', '--root', d('root'), '--name', 'QA CA', '--days', '700', '--out', d('qa-ca'), '--root-passphrase-env', 'ROOT_PASS');
  ferry('pki', 'issue-signer', '--ca', d('qa-ca'), '--name', 'qa signer', '--days', '300', '--out', d('qa'));
  fs.mkdirSync(d('trust/roots'), { recursive: true });
  fs.copyFileSync(d('root/cert.pem'), d('trust/roots/root.pem'));
});
afterAll(() => fs.rmSync(s.dir, { recursive: true, force: true }));

describe('ferry pki + export --signer + sign, verified offline', () => {
  it('refuses to use an encrypted root key without its passphrase (exit 2)', () => {
    const r = ferryFails('pki', 'issue-signer', '--root', d('root'), '--name', 'x', '--days', '3', '--out', d('nope'));
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^ferry: error\[PASSPHRASE_REQUIRED\]: .*--root-passphrase-env/);
    expect(fs.readFileSync(d('root/key.pem'), 'utf8')).toMatch(/BEGIN ENCRYPTED PRIVATE KEY/);
  });

  it('signs at export, adds a QA signature, and stock openssl verifies both', () => {
    ferry('export', '--create', '--image', s.v1, '--target', 'kiosk', '--version', '1.0.0', '--media', d('stick'), '--signer', d('build'), '--compatible', 'acme,kiosk-v2');
    const out = ferry('sign', '--media', d('stick'), '--update', 'kiosk-1.0.0', '--signer', d('qa'));
    expect(out).toMatch(/now carries 2 signature/);
    const u = d('stick/FERRY/updates/kiosk-1.0.0.json');
    execFileSync('openssl', ['cms', '-verify', '-binary', '-inform', 'DER', '-in', `${u}.p7s`, '-content', u, '-CAfile', d('root/cert.pem'), '-purpose', 'any', '-out', '/dev/null'], { stdio: 'pipe' });
    const manifest = JSON.parse(fs.readFileSync(u, 'utf8'));
    expect(manifest).toMatchObject({ schema: 'ferry.update/v1', id: 'kiosk-1.0.0', target: { counter: 1000000009999, compatible: ['acme,kiosk-v2'] }, image: { ref: 'kiosk-1.0.0' } });
  });

  it('ferry verify --trust prints each update with its signers and exits 0; --required-signers 3 refuses with exit 3', () => {
    const out = ferry('verify', '--media', d('stick'), '--trust', d('trust'), '--required-signers', '2');
    const line = out.split('\n').find((l) => l.startsWith('ok kiosk-1.0.0: signed by '));
    expect(line).toMatch(/ at \d{4}-.*, expires \d{4}-/);
    expect(line).toContain('CN=build signer');
    expect(line).toContain('CN=qa signer');
    expect(out).toMatch(/^ok: 1 image\(s\), \d+ blobs/m);
    const json = JSON.parse(ferry('verify', '--media', d('stick'), '--trust', d('trust'), '--json'));
    expect(json.updates).toEqual([expect.objectContaining({ id: 'kiosk-1.0.0', ok: true, signers: expect.any(Array) })]);
    const r = ferryFails('verify', '--media', d('stick'), '--trust', d('trust'), '--required-signers', '3');
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(/error\[NOT_ENOUGH_SIGNERS\]/);
  });

  it('ferry verify --trust refuses an update whose layer was altered on the stick (exit 3), naming the update', () => {
    fs.cpSync(d('stick'), d('stick-bad'), { recursive: true });
    const m = JSON.parse(fs.readFileSync(d('stick-bad/FERRY/updates/kiosk-1.0.0.json'), 'utf8'));
    const manifest = JSON.parse(fs.readFileSync(d(`stick-bad/FERRY/oci/blobs/sha256/${m.image.manifest.digest.slice(7)}`), 'utf8'));
    const layer = d(`stick-bad/FERRY/oci/blobs/sha256/${manifest.layers[0].digest.slice(7)}`);
    const fd = fs.openSync(layer, 'r+');
    fs.writeSync(fd, Buffer.from([0x42]), 0, 1, 10);
    fs.closeSync(fd);
    const r = spawnSync(NODE, [CLI, 'verify', '--media', d('stick-bad'), '--trust', d('trust')], { encoding: 'utf8', env });
    expect(r.status).toBe(3);
    expect(r.stdout).toMatch(/^refused kiosk-1\.0\.0: error\[DIGEST_MISMATCH\]/m);
    expect(r.stderr).toMatch(/digest-mismatch: sha256:/);
  });

  it('export --signer decrypts an encrypted signer key from --passphrase-env before writing anything', () => {
    ferry('pki', 'issue-signer', '--root', d('root'), '--name', 'locked signer', '--days', '30', '--out', d('locked'), '--root-passphrase-env', 'ROOT_PASS', '--passphrase-env', 'ROOT_PASS');
    expect(fs.readFileSync(d('locked/key.pem'), 'utf8')).toMatch(/BEGIN ENCRYPTED PRIVATE KEY/);
    const refused = ferryFails('export', '--create', '--image', s.v2, '--target', 'kiosk', '--version', '1.1.0', '--media', d('stick-locked'), '--signer', d('locked'), '--compatible', 'acme,kiosk-v2');
    expect(refused.status).toBe(2);
    expect(refused.stderr).toMatch(/PASSPHRASE_REQUIRED/);
    expect(fs.existsSync(d('stick-locked/FERRY/oci/index.json'))).toBe(false);
    ferry('export', '--create', '--image', s.v2, '--target', 'kiosk', '--version', '1.1.0', '--media', d('stick-locked'), '--signer', d('locked'), '--compatible', 'acme,kiosk-v2', '--passphrase-env', 'ROOT_PASS');
    const u = d('stick-locked/FERRY/updates/kiosk-1.1.0.json');
    execFileSync('openssl', ['cms', '-verify', '-binary', '-inform', 'DER', '-in', `${u}.p7s`, '-content', u, '-CAfile', d('root/cert.pem'), '-purpose', 'any', '-out', '/dev/null'], { stdio: 'pipe' });
  });

  it('verifies the stick on the device: two distinct signers, the pinned image and every blob', async () => {
    const trust = await loadTrustMaterial(d('trust'));
    const [r] = await verifyMediaUpdates(d('stick'), trust, { requiredSigners: 2, compatible: 'acme,kiosk-v2' }, new Date(), { checkBlobs: true });
    expect(r).toMatchObject({ id: 'kiosk-1.0.0', ok: true });
    expect(r!.signers!.map((x) => x.subject).sort()).toEqual(['CN=build signer', 'CN=qa signer']);
    expect(r!.blobsChecked).toBe(3);
  });

  it('after revoking the build signer, a 2-of-n device refuses and a 1-of-n device still accepts through QA', async () => {
    ferry('pki', 'revoke', '--root', d('root'), '--cert', d('build/cert.pem'), '--media', d('stick'), '--passphrase-env', 'ROOT_PASS');
    const crlText = execFileSync('openssl', ['crl', '-in', d('stick/FERRY/trust/crl.pem'), '-noout', '-text', '-CAfile', d('root/cert.pem')], { stdio: 'pipe' }).toString();
    expect(crlText).toMatch(/CRL Number:\s*\n\s*1\b/);
    const trust = await loadTrustMaterial(d('trust'));
    const [two] = await verifyMediaUpdates(d('stick'), trust, { requiredSigners: 2 }, new Date());
    expect(two).toMatchObject({ ok: false, code: 'NOT_ENOUGH_SIGNERS' });
    const [one] = await verifyMediaUpdates(d('stick'), trust, {}, new Date());
    expect(one!.signers!.map((x) => x.subject)).toEqual(['CN=qa signer']);
    expect(one!.verified!.crlToCache).toBeDefined();
    // a second revocation keeps the first and raises the CRL number
    ferry('pki', 'revoke', '--root', d('root'), '--cert', d('qa-ca/cert.pem'), '--media', d('stick'), '--passphrase-env', 'ROOT_PASS');
    const again = execFileSync('openssl', ['crl', '-in', d('stick/FERRY/trust/crl.pem'), '-noout', '-text'], { stdio: 'pipe' }).toString();
    expect(again).toMatch(/CRL Number:\s*\n\s*2\b/);
    expect(again.match(/Serial Number:/g)).toHaveLength(2);
    const [none] = await verifyMediaUpdates(d('stick'), trust, {}, new Date());
    expect(none).toMatchObject({ ok: false, code: 'CERT_REVOKED' });
  });

  it('accepts a new root after rotation only through the cross-certificate on the stick', async () => {
    ferry('pki', 'init-root', '--out', d('root2'), '--name', 'ACME Root 2026', '--no-passphrase');
    ferry('pki', 'issue-signer', '--root', d('root2'), '--name', 'build signer 2', '--days', '365', '--out', d('build2'));
    ferry('export', '--create', '--image', s.v2, '--target', 'kiosk', '--version', '1.1.0', '--media', d('stick2'), '--signer', d('build2'), '--compatible', 'acme,kiosk-v2');
    const trust = await loadTrustMaterial(d('trust'));
    const [before] = await verifyMediaUpdates(d('stick2'), trust, {}, new Date());
    expect(before).toMatchObject({ ok: false, code: 'UNTRUSTED_SIGNER' });
    ferry('pki', 'cross-sign', '--old-root', d('root'), '--new-root', d('root2'), '--out', d('cross.pem'), '--media', d('stick2'), '--passphrase-env', 'ROOT_PASS');
    const [after] = await verifyMediaUpdates(d('stick2'), trust, {}, new Date(), { checkBlobs: true });
    expect(after).toMatchObject({ ok: true, signers: [{ subject: 'CN=build signer 2', anchor: 'CN=ACME Root' }] });
  });

  it('lists a manifest without its signature as unsigned, and ignores AppleDouble files', async () => {
    fs.copyFileSync(d('stick/FERRY/updates/kiosk-1.0.0.json'), d('stick/FERRY/updates/kiosk-0.9.0.json'));
    fs.writeFileSync(d('stick/FERRY/updates/._kiosk-1.0.0.json'), Buffer.alloc(4096, 0));
    const trust = await loadTrustMaterial(d('trust'));
    const results = await verifyMediaUpdates(d('stick'), trust, {}, new Date());
    expect(results.map((r) => [r.id, r.code])).toEqual([
      ['kiosk-0.9.0', 'SIGNATURE_MISSING'],
      ['kiosk-1.0.0', 'CERT_REVOKED'],
    ]);
  });
});
