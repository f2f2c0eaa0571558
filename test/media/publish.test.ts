import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listMediaUpdates } from '../../src/media/updates.js';
import { addSignature, publishUpdate, type PublishRequest } from '../../src/media/publish.js';
import { initRoot, issueCertificate } from '../../src/trust/pki.js';
import { verifyUpdate } from '../../src/trust/verify.js';
import { fromPem } from '../../src/trust/der-write.js';
import { canonicalJson } from '../../src/trust/manifest.js';

let tmp: string;
let root: Buffer;
const NOW = new Date('2026-11-22T00:00:00Z');
const req = (over: Partial<PublishRequest> = {}): PublishRequest => ({
  mediaRoot: path.join(tmp, 'stick'),
  target: 'kiosk',
  version: '2.3.1',
  manifest: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: 'sha256:' + 'ab'.repeat(32), size: 321 },
  platform: { os: 'linux', architecture: 'arm64', variant: 'v8' },
  payloadBytes: 1000,
  chunkIndex: null, // the descriptor above names no image on a stick: nothing to index
  signerDir: path.join(tmp, 'signer'),
  compatible: ['acme,kiosk-v2', 'acme,kiosk-v3'],
  now: NOW,
  ...over,
});

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-publish-'));
  await initRoot({ out: path.join(tmp, 'root'), now: new Date(NOW.getTime() - 86_400_000) });
  await issueCertificate({ issuerDir: path.join(tmp, 'root'), profile: 'signer', name: 'build', days: 400, out: path.join(tmp, 'signer'), now: new Date(NOW.getTime() - 3600_000) });
  await issueCertificate({ issuerDir: path.join(tmp, 'root'), profile: 'signer', name: 'locked', days: 400, out: path.join(tmp, 'locked'), passphrase: 'pw', now: new Date(NOW.getTime() - 3600_000) });
  root = fromPem(fs.readFileSync(path.join(tmp, 'root', 'cert.pem'), 'utf8'), 'CERTIFICATE')[0]!;
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('publishUpdate', () => {
  it('writes a canonical, signed manifest that the verifier accepts', async () => {
    const r = await publishUpdate(req({ notes: 'fixes the printer', expires: '30' }));
    const bytes = fs.readFileSync(r.manifestPath);
    const v = verifyUpdate(bytes, fs.readFileSync(r.signaturePath), { roots: [root] }, { compatible: 'acme,kiosk-v3' }, NOW);
    expect(v.manifest).toEqual(r.manifest);
    expect(r.manifest).toMatchObject({
      id: 'kiosk-2.3.1',
      created: '2026-11-22T00:00:00Z',
      expires: '2026-12-22T00:00:00Z',
      target: { name: 'kiosk', version: '2.3.1', counter: 2_0003_0001_9999 },
      image: { ref: 'kiosk-2.3.1', platform: { os: 'linux', architecture: 'arm64', variant: 'v8' }, payloadBytes: 1000 },
      notes: 'fixes the printer',
    });
    expect(bytes.toString()).toBe(canonicalJson(JSON.parse(bytes.toString())));
  });

  it('takes an explicit counter and an RFC 3339 expiry, and refuses a past one', async () => {
    const r = await publishUpdate(req({ version: '2.4.0', counter: 42, expires: '2027-06-01T00:00:00Z' }));
    expect(r.manifest.target.counter).toBe(42);
    expect(r.manifest.expires).toBe('2027-06-01T00:00:00Z');
    await expect(publishUpdate(req({ expires: '2020-01-01T00:00:00Z' }))).rejects.toMatchObject({ code: 'USAGE' });
    await expect(publishUpdate(req({ version: 'banana' }))).rejects.toThrow(/--counter/);
  });

  it('needs the passphrase of an encrypted signer key', async () => {
    await expect(publishUpdate(req({ signerDir: path.join(tmp, 'locked') }))).rejects.toMatchObject({ code: 'PASSPHRASE_REQUIRED' });
    await expect(publishUpdate(req({ signerDir: path.join(tmp, 'locked'), signerPassphrase: 'wrong' }))).rejects.toMatchObject({ code: 'KEY_INVALID' });
    const r = await publishUpdate(req({ version: '2.5.0', signerDir: path.join(tmp, 'locked'), signerPassphrase: 'pw' }));
    expect(verifyUpdate(fs.readFileSync(r.manifestPath), fs.readFileSync(r.signaturePath), { roots: [root] }, {}, NOW).signers[0]!.subject).toBe('CN=locked');
  });

  it('refuses to sign with a certificate no device would accept (expired now)', async () => {
    await expect(publishUpdate(req({ version: '2.9.0', now: new Date(NOW.getTime() + 410 * 86_400_000), expires: '2029-01-01' }))).rejects.toMatchObject({ code: 'CERT_EXPIRED' });
    expect(fs.existsSync(path.join(tmp, 'stick', 'FERRY', 'updates', 'kiosk-2.9.0.json.p7s'))).toBe(false);
  });

  it('writes the signature before the manifest, and removes it when the manifest write fails: no claimed update, no orphan', async () => {
    const media = path.join(tmp, 'crash');
    fs.mkdirSync(path.join(media, 'FERRY', 'updates', 'kiosk-3.0.0.json'), { recursive: true }); // the manifest rename will fail
    await expect(publishUpdate(req({ mediaRoot: media, version: '3.0.0' }))).rejects.toThrow(/kiosk-3\.0\.0\.json/);
    expect(fs.existsSync(path.join(media, 'FERRY', 'updates', 'kiosk-3.0.0.json.p7s'))).toBe(false);
    fs.rmdirSync(path.join(media, 'FERRY', 'updates', 'kiosk-3.0.0.json'));
    expect((await listMediaUpdates(media)).updates).toEqual([]);
  });

  it('addSignature refuses to co-sign an update whose pinned image is not on the stick, and leaves the signature as it was', async () => {
    const r = await publishUpdate(req({ version: '4.0.0' }));
    const before = fs.readFileSync(r.signaturePath);
    fs.mkdirSync(path.join(tmp, 'stick', 'FERRY', 'oci', 'blobs', 'sha256'), { recursive: true });
    fs.writeFileSync(path.join(tmp, 'stick', 'FERRY', 'oci', 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    fs.writeFileSync(path.join(tmp, 'stick', 'FERRY', 'oci', 'index.json'), '{"schemaVersion":2,"manifests":[]}');
    await expect(addSignature({ mediaRoot: req().mediaRoot, id: 'kiosk-4.0.0', signerDir: path.join(tmp, 'locked'), signerPassphrase: 'pw', now: NOW })).rejects.toMatchObject({ code: 'IMAGE_NOT_FOUND' });
    expect(fs.readFileSync(r.signaturePath)).toEqual(before);
    expect(verifyUpdate(fs.readFileSync(r.manifestPath), before, { roots: [root] }, { requiredSigners: 1 }, NOW).signers).toHaveLength(1);
    await expect(addSignature({ mediaRoot: req().mediaRoot, id: 'kiosk-9.9.9', signerDir: path.join(tmp, 'signer') })).rejects.toMatchObject({ code: 'USAGE' });
    await expect(addSignature({ mediaRoot: req().mediaRoot, id: '../x', signerDir: path.join(tmp, 'signer') })).rejects.toMatchObject({ code: 'USAGE' });
  });
});
