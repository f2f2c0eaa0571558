import { execFileSync } from 'node:child_process';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { archiveMedia, unarchiveMedia } from '../../src/media/archive.js';
import { exportImage } from '../../src/media/export.js';
import { inspectMedia } from '../../src/media/inspect.js';
import { verifyMediaBlobs } from '../../src/media/verify.js';
import { isFerryError } from '../../src/errors.js';
import { buildSamplesInTemp, type SampleImages } from '../helpers/samples.js';
import { tempDir } from './fixtures.js';

let s: SampleImages & { dir: string };
let dir: string;
let media: string;
let archive: string;

beforeAll(async () => {
  s = await buildSamplesInTemp();
  dir = await tempDir('ferry-archive-');
  media = path.join(dir, 'stick');
  await exportImage({ image: s.v1, target: 'kiosk', version: '1.0.0', mediaRoot: media });
  await exportImage({ image: s.v2, target: 'kiosk', version: '1.1.0', mediaRoot: media });
  await fsp.writeFile(path.join(media, 'FERRY/updates/kiosk-1.1.0.json'), '{"schema":"ferry.update/v1"}');
  await fsp.writeFile(path.join(media, 'FERRY/updates/kiosk-1.1.0.json.p7s'), Buffer.from([0x30, 0x82, 0, 1]));
  await fsp.mkdir(path.join(media, 'FERRY/trust/roots'), { recursive: true });
  await fsp.writeFile(path.join(media, 'FERRY/trust/crl.pem'), '-----BEGIN X509 CRL-----\n');
  await fsp.writeFile(path.join(media, 'FERRY/updates/._kiosk-1.1.0.json'), 'AppleDouble junk');
  archive = path.join(dir, 'stick.tar');
  await archiveMedia({ mediaRoot: media, outFile: archive });
});
afterAll(async () => {
  await fsp.rm(s.dir, { recursive: true, force: true });
  await fsp.rm(dir, { recursive: true, force: true });
});

describe('archiveMedia', () => {
  it('writes an oci-archive that skopeo reads by ref, with updates/ and trust/ beside the layout', async () => {
    const info = JSON.parse(execFileSync('skopeo', ['inspect', `oci-archive:${archive}:kiosk-1.1.0`]).toString());
    expect(info.Layers).toHaveLength(2);
    const names = execFileSync('tar', ['-tf', archive]).toString().trim().split('\n');
    expect(names).toContain('oci-layout');
    expect(names).toContain('index.json');
    expect(names).toContain('updates/kiosk-1.1.0.json.p7s');
    expect(names).toContain('trust/crl.pem');
    expect(names.some((n) => n.includes('._'))).toBe(false);
  });

  it('refuses to archive a damaged blob and leaves no file behind', async () => {
    const m2 = path.join(dir, 'damaged');
    await exportImage({ image: s.v1, target: 'kiosk', version: '1.0.0', mediaRoot: m2 });
    const blobs = path.join(m2, 'FERRY/oci/blobs/sha256');
    const big = (await Promise.all((await fsp.readdir(blobs)).map(async (n) => ({ n, size: (await fsp.stat(path.join(blobs, n))).size })))).sort((a, b) => b.size - a.size)[0]!;
    const fh = await fsp.open(path.join(blobs, big.n), 'r+');
    await fh.write(Buffer.from('?'), 0, 1, 10);
    await fh.close();
    const out = path.join(dir, 'damaged.tar');
    await expect(archiveMedia({ mediaRoot: m2, outFile: out })).rejects.toSatisfy((e: unknown) => isFerryError(e, 'DIGEST_MISMATCH'));
    expect((await fsp.readdir(dir)).filter((n) => n.includes('damaged.tar'))).toEqual([]);
  });
});

describe('unarchiveMedia', () => {
  it('restores images, update manifests and trust files onto new media, verified', async () => {
    const out = path.join(dir, 'restored');
    const r = await unarchiveMedia({ inFile: archive, mediaRoot: out });
    expect(r.images).toBe(2);
    expect(r.files).toBe(3);
    expect((await verifyMediaBlobs(out)).ok).toBe(true);
    expect((await inspectMedia(out)).images.map((i) => i.ref)).toEqual(['kiosk-1.0.0', 'kiosk-1.1.0']);
    expect(await fsp.readFile(path.join(out, 'FERRY/updates/kiosk-1.1.0.json.p7s'))).toEqual(Buffer.from([0x30, 0x82, 0, 1]));
    expect(await fsp.readFile(path.join(out, 'FERRY/trust/crl.pem'), 'utf8')).toContain('CRL');
  });

  it('accepts the archive as an oci-archive: input for export', async () => {
    const out = path.join(dir, 'from-archive');
    const r = await exportImage({ image: `oci-archive:${archive}:kiosk-1.1.0`, target: 'kiosk', version: '1.1.0', mediaRoot: out });
    expect(r.manifest.digest).toBe(s.v2Manifest.digest);
  });

  it('refuses an archive whose blob was altered, writing no index entry', async () => {
    const bad = path.join(dir, 'altered.tar');
    await fsp.copyFile(archive, bad);
    // flip a byte inside the largest member's data
    const listing = execFileSync('tar', ['-tvf', bad]).toString().trim().split('\n');
    expect(listing.length).toBeGreaterThan(3);
    const size = (await fsp.stat(bad)).size;
    const fh = await fsp.open(bad, 'r+');
    const probe = Buffer.alloc(1);
    await fh.read(probe, 0, 1, Math.floor(size / 2));
    probe[0] = probe[0]! ^ 0xff;
    await fh.write(probe, 0, 1, Math.floor(size / 2));
    await fh.close();
    const out = path.join(dir, 'altered-out');
    await expect(unarchiveMedia({ inFile: bad, mediaRoot: out })).rejects.toSatisfy((e: unknown) => isFerryError(e) && ['DIGEST_MISMATCH', 'CORRUPT_ARCHIVE'].includes(e.code));
    // the fresh layout's index.json (written first, so the layout is valid at every moment) names nothing
    expect(JSON.parse(await fsp.readFile(path.join(out, 'FERRY/oci/index.json'), 'utf8')).manifests).toEqual([]);
  });

  it('reads a plain tar of the stick (FERRY/oci, FERRY/updates) as well', async () => {
    const tarOfStick = path.join(dir, 'stick-tree.tar');
    execFileSync('tar', ['-C', media, '-cf', tarOfStick, 'FERRY']);
    const out = path.join(dir, 'from-tree');
    const r = await unarchiveMedia({ inFile: tarOfStick, mediaRoot: out });
    expect(r.images).toBe(2);
    expect(r.files).toBe(3);
    expect((await verifyMediaBlobs(out)).ok).toBe(true);
  });
});
