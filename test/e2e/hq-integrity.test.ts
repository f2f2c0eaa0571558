/**
 * Issue 11, through the built CLI: the stick never lies. Concurrent writers, re-exports of
 * a version already there, checks that run before the first byte, expiry against the
 * signer chain, revocation of a root, verify saying what it did not check, a mistyped
 * --media, and a failed signing that leaves nothing behind.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSignedData } from '../../src/trust/cms.js';
import { fromPem } from '../../src/trust/der-write.js';
import { parseCertificate } from '../../src/trust/x509.js';
import { initRoot, issueCertificate } from '../../src/trust/pki.js';
import { buildSamplesInTemp, type SampleImages } from '../helpers/samples.js';
import { mediaState, tempDir } from '../media/fixtures.js';
import { hq } from './device-run.js';

const NODE = path.resolve('node_modules/.bin/node');
const CLI = path.resolve('dist/src/cli/main.js');
const DAY = 86_400_000;
let s: SampleImages & { dir: string };
let dir: string;
const d = (p: string) => path.join(dir, p);

const ferry = hq;

/** The same, without blocking: for racing writers. */
function ferryAsync(...args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn(NODE, [CLI, ...args]);
    let out = '';
    let err = '';
    p.stdout.on('data', (b: Buffer) => (out += b.toString()));
    p.stderr.on('data', (b: Buffer) => (err += b.toString()));
    p.on('close', (code) => resolve({ code, out, err }));
  });
}

const signatures = (media: string, id: string) => parseSignedData(fs.readFileSync(path.join(media, 'FERRY/updates', `${id}.json.p7s`))).signerInfos.length;
const pinned = (media: string, id: string) => JSON.parse(fs.readFileSync(path.join(media, 'FERRY/updates', `${id}.json`), 'utf8')).image.manifest.digest as string;
const exportSigned = (media: string, image: string, version: string, ...extra: string[]) =>
  ferry('export', '--image', image, '--target', 'kiosk', '--version', version, '--media', media, '--signer', d('build'), '--compatible', 'acme,kiosk-v2', ...extra);

beforeAll(async () => {
  s = await buildSamplesInTemp();
  dir = await tempDir('ferry-hq-integrity-');
  const now = new Date();
  await initRoot({ out: d('root'), name: 'ACME Root' });
  await issueCertificate({ issuerDir: d('root'), profile: 'signer', name: 'build', days: 400, out: d('build') });
  await issueCertificate({ issuerDir: d('root'), profile: 'signer', name: 'qa', days: 400, out: d('qa') });
  await issueCertificate({ issuerDir: d('root'), profile: 'signer', name: 'short', days: 1, out: d('short') });
  await issueCertificate({ issuerDir: d('root'), profile: 'signer', name: 'year', days: 365, out: d('year') });
  await issueCertificate({ issuerDir: d('root'), profile: 'signer', name: 'old', days: 2, out: d('expired'), now: new Date(now.getTime() - 10 * DAY) });
  await fsp.mkdir(d('trust/roots'), { recursive: true });
  await fsp.copyFile(d('root/cert.pem'), d('trust/roots/root.pem'));
}, 120_000);
afterAll(async () => {
  await fsp.rm(s.dir, { recursive: true, force: true });
  await fsp.rm(dir, { recursive: true, force: true });
});

describe('finding 1: verify --json never says ok beside an error', () => {
  it('reports ok false with NOT_ENOUGH_SIGNERS (exit 3), and option errors as JSON', async () => {
    const media = d('f1');
    await fsp.mkdir(media);
    expect(exportSigned(media, s.v1, '1.0.0').code).toBe(0);
    const r = ferry('verify', '--media', media, '--trust', d('trust'), '--required-signers', '2', '--json');
    expect(r.code).toBe(3);
    const j = JSON.parse(r.out);
    expect(j.ok).toBe(false);
    expect(j.error.code).toBe('NOT_ENOUGH_SIGNERS');
    for (const args of [['verify', '--media', media, '--json', '--trust', d('trust'), '--required-signers', 'x'], ['verify', '--json'], ['verify', '--media', media, '--json', '--bogus']]) {
      const e = ferry(...args);
      expect(e.code, args.join(' ')).toBe(2);
      expect(JSON.parse(e.out)).toMatchObject({ ok: false, error: { code: 'USAGE' } });
    }
  });
});

describe('finding 2: two exports to one stick at once', () => {
  it('10 pairs racing onto one stick: every image present, verified, no temp file or lock left', async () => {
    const media = d('race');
    await fsp.mkdir(media);
    for (let k = 0; k < 10; k++) {
      const [a, b] = await Promise.all([
        ferryAsync('export', '--image', s.v1, '--target', 'a', '--version', `1.0.${k}`, '--media', media),
        ferryAsync('export', '--image', s.v2Archive, '--target', 'b', '--version', `1.0.${k}`, '--media', media, '--compress', 'zstd'),
      ]);
      expect(a.code, a.err).toBe(0);
      expect(b.code, b.err).toBe(0);
    }
    const refs = (await mediaState(media)).refs;
    expect(refs).toHaveLength(20);
    for (let k = 0; k < 10; k++) expect(refs).toEqual(expect.arrayContaining([`a-1.0.${k}`, `b-1.0.${k}`]));
    expect(ferry('verify', '--media', media).code).toBe(0);
    const leftovers = [...(await fsp.readdir(d('race/FERRY'))), ...(await fsp.readdir(d('race/FERRY/oci'))), ...(await fsp.readdir(d('race/FERRY/oci/blobs/sha256')))];
    expect(leftovers.filter((n) => n.startsWith('.'))).toEqual([]);
  }, 300_000);
});

describe('finding 3: a version already on the stick', () => {
  it('an identical re-export changes nothing and keeps the co-signature', async () => {
    const media = d('f3a');
    await fsp.mkdir(media);
    expect(exportSigned(media, s.v1, '1.0.0').code).toBe(0);
    expect(ferry('sign', '--media', media, '--update', 'kiosk-1.0.0', '--signer', d('qa')).code).toBe(0);
    expect(signatures(media, 'kiosk-1.0.0')).toBe(2);
    const again = exportSigned(media, s.v1, '1.0.0');
    expect(again.code, again.err).toBe(0);
    expect(again.out).toContain('same content');
    expect(again.out).toContain('kept with its signatures');
    expect(signatures(media, 'kiosk-1.0.0')).toBe(2);
    expect(ferry('verify', '--media', media, '--trust', d('trust'), '--required-signers', '2').code).toBe(0);
  });

  it('different content under the same version is refused with VERSION_EXISTS, and --replace replaces image and signed manifest', async () => {
    const media = d('f3b');
    await fsp.mkdir(media);
    const first = JSON.parse(exportSigned(media, s.v1, '2.0.0', '--json').out);
    const before = await mediaState(media);
    const refused = exportSigned(media, s.v2Archive, '2.0.0');
    expect(refused.code).toBe(2);
    expect(refused.err).toMatch(/error\[VERSION_EXISTS\]/);
    expect(await mediaState(media)).toEqual(before);
    const unsigned = ferry('export', '--image', s.v2Archive, '--target', 'kiosk', '--version', '2.0.0', '--media', media);
    expect(unsigned.code).toBe(2);
    expect(pinned(media, 'kiosk-2.0.0')).toBe(first.manifest.digest);
    const replaced = JSON.parse(exportSigned(media, s.v2Archive, '2.0.0', '--replace', '--json').out);
    expect(replaced.replaced).toBe(first.manifest.digest);
    expect(pinned(media, 'kiosk-2.0.0')).toBe(replaced.manifest.digest);
    expect(ferry('verify', '--media', media, '--trust', d('trust')).code).toBe(0);
    // --replace without --signer drops the old signed manifest instead of leaving it pinning a digest that is gone
    expect(ferry('export', '--image', s.v1, '--target', 'kiosk', '--version', '2.0.0', '--media', media, '--replace').code).toBe(0);
    expect(fs.existsSync(path.join(media, 'FERRY/updates/kiosk-2.0.0.json'))).toBe(false);
    expect(fs.existsSync(path.join(media, 'FERRY/updates/kiosk-2.0.0.json.p7s'))).toBe(false);
  });

  it('sign refuses an update whose pinned image is damaged, leaving the signature as it was', async () => {
    const media = d('f3c');
    await fsp.mkdir(media);
    expect(exportSigned(media, s.v1, '1.0.0').code).toBe(0);
    const blobs = path.join(media, 'FERRY/oci/blobs/sha256');
    const layer = (await fsp.readdir(blobs)).map((n) => path.join(blobs, n)).sort((a, b) => fs.statSync(b).size - fs.statSync(a).size)[0]!;
    const bytes = await fsp.readFile(layer);
    bytes[bytes.length >> 1] ^= 0xff;
    await fsp.writeFile(layer, bytes);
    const sig = await fsp.readFile(path.join(media, 'FERRY/updates/kiosk-1.0.0.json.p7s'));
    const r = ferry('sign', '--media', media, '--update', 'kiosk-1.0.0', '--signer', d('qa'));
    expect(r.code).toBe(3);
    expect(r.err).toMatch(/error\[DIGEST_MISMATCH\]/);
    expect(await fsp.readFile(path.join(media, 'FERRY/updates/kiosk-1.0.0.json.p7s'))).toEqual(sig);
  });

  it('unarchive refuses to replace a different image under the same ref unless --replace', async () => {
    const a = d('f3d-a');
    const b = d('f3d-b');
    await fsp.mkdir(a);
    await fsp.mkdir(b);
    expect(ferry('export', '--image', s.v2Archive, '--target', 'kiosk', '--version', '1.0.0', '--media', a).code).toBe(0);
    expect(ferry('archive', '--media', a, '--out', d('f3d.tar')).code).toBe(0);
    expect(ferry('export', '--image', s.v1, '--target', 'kiosk', '--version', '1.0.0', '--media', b).code).toBe(0);
    const before = await mediaState(b);
    const r = ferry('unarchive', '--in', d('f3d.tar'), '--media', b);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/error\[VERSION_EXISTS\]/);
    expect(await mediaState(b)).toEqual(before);
    expect(ferry('unarchive', '--in', d('f3d.tar'), '--media', b, '--replace').code).toBe(0);
  });
});

describe('finding 4: validity that outlives the signer', () => {
  it('refuses --expires past the signer chain, caps the default at the chain end, and warns with the real last day when allowed', async () => {
    const media = d('f4');
    await fsp.mkdir(media);
    const refused = ferry('export', '--image', s.v1, '--target', 'kiosk', '--version', '1.0.0', '--media', media, '--signer', d('year'), '--compatible', 'x', '--expires', '800');
    expect(refused.code).toBe(2);
    expect(refused.err).toMatch(/chain ends/);
    expect(fs.existsSync(path.join(media, 'FERRY'))).toBe(false);
    const capped = JSON.parse(ferry('export', '--image', s.v1, '--target', 'kiosk', '--version', '1.0.0', '--media', media, '--signer', d('short'), '--compatible', 'x', '--json').out);
    const chainEnd = parseCertificate(fromPem(fs.readFileSync(d('short/cert.pem'), 'utf8'), 'CERTIFICATE')[0]!, 'short').notAfter.getTime();
    expect(Math.abs(Date.parse(capped.update.lastAccepted) - chainEnd)).toBeLessThan(1000);
    expect(capped.warnings.join('\n')).toMatch(/certificate chain ends/);
    const manifest = JSON.parse(await fsp.readFile(capped.update.manifestPath, 'utf8'));
    expect(Date.parse(manifest.expires)).toBeLessThanOrEqual(chainEnd);
    const allowed = ferry('export', '--image', s.v1, '--target', 'kiosk', '--version', '1.0.1', '--media', media, '--signer', d('short'), '--compatible', 'x', '--expires', '30', '--allow-expiry-past-signer');
    expect(allowed.code, allowed.err).toBe(0);
    expect(allowed.err).toMatch(/WARNING: .*the real last day of this update is/);
    const v = ferry('verify', '--media', media, '--trust', d('trust'));
    expect(v.out).toMatch(/ok kiosk-1\.0\.1: .*devices accept it until 20\d\d-/);
    const last = /ok kiosk-1\.0\.1: .*devices accept it until (\S+)/.exec(v.out)![1]!;
    expect(Math.abs(Date.parse(last) - chainEnd)).toBeLessThan(1000);
  });
});

describe('finding 5: checks before the first byte', () => {
  it('an --expires in the past and an expired signer are refused with nothing written', async () => {
    const media = d('f5');
    await fsp.mkdir(media);
    const past = exportSigned(media, s.v1, '1.0.0', '--expires', '2020-01-01');
    expect(past.code).toBe(2);
    expect(past.err).toMatch(/not in the future/);
    const expired = ferry('export', '--image', s.v1, '--target', 'kiosk', '--version', '1.0.0', '--media', media, '--signer', d('expired'), '--compatible', 'x');
    expect(expired.code).toBe(3);
    expect(expired.err).toMatch(/error\[CERT_EXPIRED\]/);
    expect(await fsp.readdir(media)).toEqual([]);
  });
});

describe('finding 6: revocation', () => {
  it('refuses to revoke the root itself, and a failed stick write leaves the HQ CRL unchanged; publish-crl copies it', async () => {
    const media = d('f6');
    await fsp.mkdir(media);
    const root = ferry('pki', 'revoke', '--root', d('root'), '--cert', d('root/cert.pem'), '--media', media);
    expect(root.code).toBe(2);
    expect(root.err).toMatch(/is a root certificate/);
    expect(fs.existsSync(d('root/crl.pem'))).toBe(false);
    await fsp.mkdir(path.join(media, 'FERRY'));
    await fsp.writeFile(path.join(media, 'FERRY/trust'), 'not a folder'); // the stick write fails
    const failed = ferry('pki', 'revoke', '--root', d('root'), '--cert', d('qa/cert.pem'), '--media', media);
    expect(failed.code).not.toBe(0);
    expect(failed.err).toMatch(/root folder's CRL was not changed/);
    expect(fs.existsSync(d('root/crl.pem'))).toBe(false);
    await fsp.rm(path.join(media, 'FERRY/trust'));
    const other = d('f6-other');
    await fsp.mkdir(other);
    expect(ferry('pki', 'revoke', '--root', d('root'), '--cert', d('qa/cert.pem'), '--media', other).code).toBe(0);
    const pub = ferry('pki', 'publish-crl', '--root', d('root'), '--media', media);
    expect(pub.code, pub.err).toBe(0);
    expect(await fsp.readFile(path.join(media, 'FERRY/trust/crl.pem'))).toEqual(await fsp.readFile(d('root/crl.pem')));
  });
});

describe('finding 7: nothing passes silently', () => {
  it('verify names what it did not check: signatures without --trust, unsigned images, uncounted signatures, orphan signatures', async () => {
    const media = d('f7');
    await fsp.mkdir(media);
    expect(exportSigned(media, s.v1, '1.0.0').code).toBe(0);
    expect(ferry('export', '--image', s.v2Archive, '--target', 'kiosk', '--version', '1.1.0', '--media', media).code).toBe(0);
    const plain = ferry('verify', '--media', media);
    expect(plain.code).toBe(0);
    expect(plain.out).toMatch(/signatures NOT checked: 1 signed update manifest/);
    expect(ferry('verify', '--media', media, '--required-signers', '2').code).toBe(2);
    const trusted = ferry('verify', '--media', media, '--trust', d('trust'), '--json');
    const j = JSON.parse(trusted.out);
    expect(j.ok).toBe(true);
    expect(j.notices).toEqual([expect.objectContaining({ kind: 'unsigned-image', id: 'kiosk-1.1.0' })]);
    // a co-signature by a signer the devices do not trust is reported, not silently dropped
    await issueCertificate({ issuerDir: d('root'), profile: 'signer', name: 'stranger', days: 30, out: d('stranger-signer') });
    await initRoot({ out: d('stranger-root') });
    await issueCertificate({ issuerDir: d('stranger-root'), profile: 'signer', name: 'stranger', days: 30, out: d('stranger') });
    expect(ferry('sign', '--media', media, '--update', 'kiosk-1.0.0', '--signer', d('stranger')).code).toBe(0);
    const dropped = ferry('verify', '--media', media, '--trust', d('trust'));
    expect(dropped.code).toBe(0);
    expect(dropped.out).toMatch(/kiosk-1\.0\.0: 1 of 2 signature\(s\) not counted/);
    // a signature without its manifest (a signing that did not finish) fails verify
    await fsp.copyFile(path.join(media, 'FERRY/updates/kiosk-1.0.0.json.p7s'), path.join(media, 'FERRY/updates/kiosk-1.1.0.json.p7s'));
    const orphan = ferry('verify', '--media', media, '--trust', d('trust'));
    expect(orphan.code).toBe(5);
    expect(orphan.err).toMatch(/kiosk-1\.1\.0\.json\.p7s has no kiosk-1\.1\.0\.json/);
  });

  it('export --verify-existing says which blob it found damaged and repaired', async () => {
    const media = d('f7b');
    await fsp.mkdir(media);
    expect(ferry('export', '--image', s.v1, '--target', 'kiosk', '--version', '1.0.0', '--media', media).code).toBe(0);
    const blobs = path.join(media, 'FERRY/oci/blobs/sha256');
    const layer = (await fsp.readdir(blobs)).sort((a, b) => fs.statSync(path.join(blobs, b)).size - fs.statSync(path.join(blobs, a)).size)[0]!;
    const bytes = await fsp.readFile(path.join(blobs, layer));
    bytes[10] ^= 0xff;
    await fsp.writeFile(path.join(blobs, layer), bytes);
    const r = ferry('export', '--image', s.v1, '--target', 'kiosk', '--version', '1.0.0', '--media', media, '--verify-existing');
    expect(r.code, r.err).toBe(0);
    expect(r.err).toContain(`blob sha256:${layer} on the media was damaged`);
    expect(ferry('verify', '--media', media).code).toBe(0);
  });
});

describe('finding 9: a typo in --media', () => {
  it('refuses a path that does not exist (unless --create) and a file, creating nothing', async () => {
    const typo = d('medai/stick');
    const r = ferry('export', '--image', s.v1, '--target', 'kiosk', '--version', '1.0.0', '--media', typo);
    expect(r.code).toBe(5);
    expect(r.err).toMatch(/error\[MEDIA_NOT_FOUND\]: --media .*medai\/stick does not exist.*--create/);
    expect(fs.existsSync(d('medai'))).toBe(false);
    await fsp.writeFile(d('stick.tar'), 'x');
    const file = ferry('sign', '--media', d('stick.tar'), '--update', 'kiosk-1.0.0', '--signer', d('qa'));
    expect(file.code).toBe(2);
    expect(file.err).toMatch(/is a file, not a folder: that is an archive file/);
    const made = ferry('export', '--image', s.v1, '--target', 'kiosk', '--version', '1.0.0', '--media', typo, '--create');
    expect(made.code, made.err).toBe(0);
    expect(made.err).toMatch(/warning: .*on the root file system|^$/);
  });
});

describe('finding 11: a signing that fails after the image was written', () => {
  it('removes what this run wrote: no new blob, no index entry, no orphan signature', async () => {
    const media = d('f11');
    await fsp.mkdir(media);
    expect(ferry('export', '--image', s.v1, '--target', 'kiosk', '--version', '1.0.0', '--media', media).code).toBe(0);
    const before = await mediaState(media);
    await fsp.mkdir(path.join(media, 'FERRY/updates/kiosk-1.1.0.json'), { recursive: true }); // the manifest write fails
    const r = exportSigned(media, s.v2Archive, '1.1.0');
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/kiosk-1\.1\.0\.json/);
    expect(await mediaState(media)).toEqual(before);
    expect(fs.existsSync(path.join(media, 'FERRY/updates/kiosk-1.1.0.json.p7s'))).toBe(false);
  });
});
