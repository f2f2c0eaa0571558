import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listMediaUpdates } from '../../src/media/updates.js';
import { firstRefusal, formatUpdateResult, verifyMediaUpdates } from '../../src/media/verify-updates.js';
import { toPem } from '../../src/trust/der-write.js';
import { makePki, NOW, signerOf } from '../trust/helpers.js';
import { signedImage } from '../trust/media-fixture.js';

const pki = makePki();
let tmp: string;
let media: string;
beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-updates-'));
  media = path.join(tmp, 'stick');
  await signedImage(media, '1.0.0', signerOf(pki.signer), NOW);
  await signedImage(media, '1.1.0', signerOf(pki.signer), NOW, { compatible: ['acme,other'] });
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('listMediaUpdates', () => {
  it('reads manifest and signature pairs and ignores AppleDouble, hidden, temp and unrelated files', async () => {
    const dir = path.join(media, 'FERRY', 'updates');
    fs.writeFileSync(path.join(dir, '._kiosk-1.0.0.json'), 'junk');
    fs.writeFileSync(path.join(dir, '.ferry-tmp-kiosk-2.0.0.json.abcd'), 'junk');
    fs.writeFileSync(path.join(dir, 'README.txt'), 'hello');
    fs.writeFileSync(path.join(dir, 'orphan-9.json.p7s'), 'left over by an interrupted publish');
    const u = await listMediaUpdates(media);
    expect(u.updates.map((x) => [x.id, x.problem?.code, x.manifestBytes?.length! > 0, x.signatureBytes?.length! > 0])).toEqual([
      ['kiosk-1.0.0', undefined, true, true],
      ['kiosk-1.1.0', undefined, true, true],
    ]);
    expect(u.crlCandidates).toEqual([]);
  });

  it('refuses the whole stick for a linked manifest, and reports an oversized one as too large, per update', async () => {
    const m2 = path.join(tmp, 'm2');
    fs.mkdirSync(path.join(m2, 'FERRY', 'updates'), { recursive: true });
    fs.symlinkSync('/etc/hostname', path.join(m2, 'FERRY', 'updates', 'a-1.json'));
    fs.writeFileSync(path.join(m2, 'FERRY', 'updates', 'b-1.json'), Buffer.alloc(1024 * 1024 + 1, 0x20));
    fs.writeFileSync(path.join(m2, 'FERRY', 'updates', 'b-1.json.p7s'), 'x');
    await expect(listMediaUpdates(m2)).rejects.toMatchObject({ code: 'UNSAFE_MEDIA' });
    fs.rmSync(path.join(m2, 'FERRY', 'updates', 'a-1.json'));
    const u = await listMediaUpdates(m2);
    expect(u.updates.map((x) => [x.id, x.problem?.code])).toEqual([['b-1', 'FILE_TOO_LARGE']]);
  });

  it('refuses a stick whose manifests and signatures together exceed the total cap (each one under its own cap)', async () => {
    const m4 = path.join(tmp, 'm4');
    const dir = path.join(m4, 'FERRY', 'updates');
    fs.mkdirSync(dir, { recursive: true });
    // 40 pairs of sparse 1 MiB files: 80 MiB held at once if read
    for (let i = 0; i < 40; i++) {
      for (const name of [`big-${i}.json`, `big-${i}.json.p7s`]) {
        fs.writeFileSync(path.join(dir, name), '');
        fs.truncateSync(path.join(dir, name), 1024 * 1024);
      }
    }
    await expect(listMediaUpdates(m4)).rejects.toMatchObject({ code: 'LIMIT_EXCEEDED' });
  });

  it('reads the stick trust material: crl.pem and cross-certificates under roots/', async () => {
    const m3 = path.join(tmp, 'm3');
    fs.mkdirSync(path.join(m3, 'FERRY', 'trust', 'roots'), { recursive: true });
    fs.writeFileSync(path.join(m3, 'FERRY', 'trust', 'roots', 'cross.pem'), toPem(pki.inter.cert, 'CERTIFICATE'));
    fs.writeFileSync(path.join(m3, 'FERRY', 'trust', 'roots', '._cross.pem'), 'junk');
    fs.writeFileSync(path.join(m3, 'FERRY', 'trust', 'crl.pem'), toPem(Buffer.from([0x30, 0x00]), 'X509 CRL'));
    const u = await listMediaUpdates(m3);
    expect(u.crossCerts).toEqual([pki.inter.cert]);
    expect(u.crlCandidates).toHaveLength(1);
  });

  it('says MEDIA_NOT_FOUND for a folder without FERRY/', async () => {
    await expect(listMediaUpdates(tmp + '/nope')).rejects.toMatchObject({ code: 'MEDIA_NOT_FOUND' });
  });
});

describe('verifyMediaUpdates', () => {
  it('gives one verdict per update: who signed, when, expiry, and the bytes checked', async () => {
    const events: string[] = [];
    const r = await verifyMediaUpdates(media, { roots: [pki.root.cert] }, { compatible: 'acme,kiosk-v2' }, NOW, { checkBlobs: true, progress: (e) => events.push(e.step) });
    expect(r.map((x) => [x.id, x.ok, x.code])).toEqual([
      ['kiosk-1.0.0', true, undefined],
      ['kiosk-1.1.0', false, 'INCOMPATIBLE_DEVICE'],
    ]);
    expect(r[0]).toMatchObject({ signers: [{ subject: 'CN=Build Signer' }], signedAt: NOW.toISOString(), blobsChecked: 3 });
    expect(r[0]!.bytesChecked).toBeGreaterThan(2000);
    // a signed but inapplicable update still says what it is and who signed it (for the technician's screen)
    expect(r[1]).toMatchObject({ manifest: { id: 'kiosk-1.1.0' }, signers: [{ subject: 'CN=Build Signer' }] });
    expect(r[1]!.blobsChecked).toBeUndefined();
    expect(events).toContain('verify kiosk-1.0.0');
    expect(formatUpdateResult(r[0]!)).toMatch(/^ok kiosk-1\.0\.0: signed by CN=Build Signer at .*, 3 blobs \(\d+ bytes\) verified$/);
    expect(formatUpdateResult(r[1]!)).toMatch(/^refused kiosk-1\.1\.0: error\[INCOMPATIBLE_DEVICE\]: /);
    expect(firstRefusal(r)).toMatchObject({ code: 'INCOMPATIBLE_DEVICE', exitCode: 4 });
    expect(firstRefusal([r[0]!])).toBeUndefined();
  });

  it('without a trusted root for the signer, refuses every update before looking at the image', async () => {
    const r = await verifyMediaUpdates(media, { roots: [pki.otherRoot.cert] }, {}, NOW, { checkBlobs: true });
    expect(r.every((x) => x.code === 'UNTRUSTED_SIGNER' && x.manifest === undefined && x.blobsChecked === undefined)).toBe(true);
  });
});
