/**
 * MediaSource: a folder holding FERRY/ and the archive `ferry archive` writes of it (and
 * GNU tar's FERRY/ and oci/ forms) give the same listing and the same bytes, read in
 * place with every cap kept; anything else is refused with a typed error.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { archiveMedia } from '../../src/media/archive.js';
import { inspectMedia } from '../../src/media/inspect.js';
import { type MediaSource, openMediaSource } from '../../src/media/source.js';
import { listMediaUpdates } from '../../src/media/updates.js';
import { verifyMediaBlobs } from '../../src/media/verify.js';
import { toPem } from '../../src/trust/der-write.js';
import { makePki, NOW, signerOf } from '../trust/helpers.js';
import { signedImage } from '../trust/media-fixture.js';

const pki = makePki();
let tmp: string;
let stick: string;
/** The three archive forms: ferry archive (layout at the root), GNU tar of FERRY/, GNU tar of FERRY/'s contents. */
const archives: Record<'ferry' | 'gnuFerry' | 'gnuOci', string> = { ferry: '', gnuFerry: '', gnuOci: '' };

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-source-'));
  stick = path.join(tmp, 'stick');
  await signedImage(stick, '1.0.0', signerOf(pki.signer), NOW);
  await signedImage(stick, '1.1.0', signerOf(pki.signer), NOW);
  const trust = path.join(stick, 'FERRY', 'trust');
  fs.mkdirSync(path.join(trust, 'roots'), { recursive: true });
  fs.writeFileSync(path.join(trust, 'crl.pem'), toPem(Buffer.from('not really a crl'), 'X509 CRL'));
  fs.writeFileSync(path.join(trust, 'roots', 'cross-1.pem'), toPem(pki.root.cert, 'CERTIFICATE'));
  archives.ferry = path.join(tmp, 'stick.tar');
  await archiveMedia({ mediaRoot: stick, outFile: archives.ferry });
  // AppleDouble junk only in the GNU tar forms (ferry archive does not carry it): it must stay ignored
  fs.writeFileSync(path.join(stick, 'FERRY', 'updates', '._kiosk-1.0.0.json'), 'junk');
  archives.gnuFerry = path.join(tmp, 'ferry-form.tar');
  execFileSync('tar', ['-C', stick, '-cf', archives.gnuFerry, 'FERRY']);
  archives.gnuOci = path.join(tmp, 'oci-form.tar');
  execFileSync('tar', ['-C', path.join(stick, 'FERRY'), '-cf', archives.gnuOci, 'oci', 'updates', 'trust']);
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

async function snapshot(src: MediaSource) {
  const layout = await src.openLayout();
  const index = await layout.readIndex();
  const blobs: Record<string, string> = {};
  for (const d of index.manifests) blobs[d.digest] = String(await layout.verifyBlob(d));
  const updates = (await src.list('updates')).filter((n) => !n.startsWith('._'));
  const files: Record<string, string> = {};
  for (const n of updates) files[n] = (await src.readFile(`updates/${n}`, 1 << 20, n))!.toString('base64');
  return { index, blobs, updates, files, roots: await src.list('trust/roots'), crl: (await src.readFile('trust/crl.pem', 1 << 20, 'crl'))?.toString() };
}

describe('openMediaSource', () => {
  it('gives the same listing and bytes for the folder and each archive form', async () => {
    const folder = await openMediaSource(stick);
    expect(folder.kind).toBe('folder');
    expect(folder.receiptsRoot).toBe(stick);
    const want = await snapshot(folder);
    expect(want.updates).toEqual(['kiosk-1.0.0.json', 'kiosk-1.0.0.json.p7s', 'kiosk-1.1.0.json', 'kiosk-1.1.0.json.p7s']);
    expect(want.roots).toEqual(['cross-1.pem']);
    for (const file of Object.values(archives)) {
      const src = await openMediaSource(file);
      expect(src.kind).toBe('archive');
      expect(src.receiptsRoot).toBeUndefined();
      expect(await snapshot(src), file).toEqual(want);
    }
  });

  it('lists the same signed updates and trust material through listMediaUpdates, AppleDouble files ignored', async () => {
    const folder = await listMediaUpdates(stick);
    expect(folder.updates.map((u) => [u.id, u.problem?.code])).toEqual([
      ['kiosk-1.0.0', undefined],
      ['kiosk-1.1.0', undefined],
    ]);
    expect(folder.crlCandidates).toEqual([Buffer.from('not really a crl')]);
    expect(folder.crossCerts).toEqual([pki.root.cert]);
    for (const file of Object.values(archives)) {
      const a = await listMediaUpdates(file);
      expect(a.updates.map((u) => [u.id, u.manifestBytes, u.signatureBytes, u.problem])).toEqual(folder.updates.map((u) => [u.id, u.manifestBytes, u.signatureBytes, u.problem]));
      expect(a.crlCandidates).toEqual(folder.crlCandidates);
      expect(a.crossCerts).toEqual(folder.crossCerts);
      expect(a.updates[0]!.manifestFile).toBe(`${file}!updates/kiosk-1.0.0.json`);
    }
  });

  it('inspects and verifies an archive in place like the folder', async () => {
    const f = await inspectMedia(stick);
    const a = await inspectMedia(archives.ferry);
    expect({ ...a, mediaRoot: stick }).toEqual(f);
    const v = await verifyMediaBlobs(archives.ferry);
    expect(v).toMatchObject({ ok: true, problems: [] });
    expect(v).toEqual(await verifyMediaBlobs(stick));
  });

  it('keeps every cap inside an archive', async () => {
    const src = await openMediaSource(archives.ferry);
    const size = (await src.readFile('updates/kiosk-1.0.0.json', 1 << 20, 'update manifest'))!.length;
    await expect(src.readFile('updates/kiosk-1.0.0.json', size - 1, 'update manifest')).rejects.toMatchObject({ code: 'FILE_TOO_LARGE' });
    expect(await src.readFile('updates/kiosk-9.json', 1 << 20, 'update manifest')).toBeUndefined();
    // a folder member is not a file (a stick shaped so is refused), and a path out of FERRY/ is refused before any read
    await expect(src.readFile('updates', 1 << 20, 'x')).rejects.toMatchObject({ code: 'UNSAFE_MEDIA' });
    await expect(src.readFile('../etc/passwd', 1 << 20, 'x')).rejects.toMatchObject({ code: 'UNSAFE_PATH' });
  });

  it('refuses a stick archive with a linked member, as it refuses a linked file on a stick', async () => {
    const dir = path.join(tmp, 'linked');
    fs.mkdirSync(path.join(dir, 'updates'), { recursive: true });
    fs.cpSync(path.join(stick, 'FERRY', 'oci'), path.join(dir, 'oci'), { recursive: true });
    fs.symlinkSync('/etc/hostname', path.join(dir, 'updates', 'a-1.json'));
    fs.writeFileSync(path.join(dir, 'updates', 'a-1.json.p7s'), 'sig');
    const file = path.join(tmp, 'linked.tar');
    execFileSync('tar', ['-C', dir, '-cf', file, 'oci', 'updates']);
    await expect(listMediaUpdates(file)).rejects.toMatchObject({ code: 'UNSAFE_MEDIA', message: expect.stringMatching(/linked\.tar!updates\/a-1\.json is a symlink member, not a file: do not use this stick/) });
  });

  it('refuses a tar that is not ferry media, a file that is no tar, a folder without FERRY/ and a missing path', async () => {
    const other = path.join(tmp, 'other');
    fs.mkdirSync(other);
    fs.writeFileSync(path.join(other, 'hello.txt'), 'hello\n');
    execFileSync('tar', ['-C', other, '-cf', path.join(tmp, 'other.tar'), 'hello.txt']);
    await expect(openMediaSource(path.join(tmp, 'other.tar'))).rejects.toMatchObject({ code: 'INVALID_LAYOUT', exitCode: 5 });
    await expect(openMediaSource(path.join(other, 'hello.txt'))).rejects.toMatchObject({ code: 'CORRUPT_ARCHIVE' });
    await expect(openMediaSource(other)).rejects.toMatchObject({ code: 'MEDIA_NOT_FOUND' });
    await expect(openMediaSource(path.join(tmp, 'nope.tar'))).rejects.toMatchObject({ code: 'MEDIA_NOT_FOUND', message: expect.stringMatching(/archive written by ferry archive/) });
    await expect(inspectMedia(path.join(tmp, 'other.tar'))).rejects.toMatchObject({ code: 'INVALID_LAYOUT' });
  });
});
