/**
 * `ferry push` (library level) into a real registry: each blob is verified as it is read for its upload, images land
 * under PREFIX/<target>:<version> with the same digests (skopeo reads them back), shared
 * blobs are skipped or mounted, and the signed update travels as an artifact attached to its
 * image (referrers tag schema: distribution 2.8 has no referrers API).
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pushMedia } from '../../src/media/push.js';
import { RegistryClient, readCapped } from '../../src/oci/registry/client.js';
import { parseRegistryRef } from '../../src/oci/registry/reference.js';
import { FERRY_UPDATE_ARTIFACT, referrersTag } from '../../src/oci/registry/referrers.js';
import { hasBlob } from '../../src/oci/registry/upload.js';
import { loadTrustMaterial } from '../../src/trust/load.js';
import { makeStickKit, type StickKit } from '../helpers/device-stick.js';
import { inspectRaw, REGISTRY_USER, startRegistry, type TestRegistry } from '../helpers/registry.js';

const run = promisify(execFile);
let kit: StickKit;
let reg: TestRegistry;
let stick: string;
let trustDir: string;

beforeAll(async () => {
  kit = await makeStickKit();
  reg = await startRegistry();
  stick = await kit.makeStick([
    { image: 'v1', version: '1.0.0', counter: 100 },
    { image: 'v2', version: '1.1.0', counter: 110 },
    { image: 'v1', version: '1.0.0', counter: 100, target: 'lobby' },
  ]);
  trustDir = path.join(kit.dir, 'trust');
  await kit.installTrust(trustDir);
}, 120_000);

afterAll(async () => {
  await reg?.stop();
  await kit?.cleanup();
});

async function stickManifest(id: string): Promise<{ digest: string; mediaType: string }> {
  return (JSON.parse(await fsp.readFile(path.join(stick, 'FERRY', 'updates', `${id}.json`), 'utf8')) as { image: { manifest: { digest: string; mediaType: string } } }).image.manifest;
}

describe('ferry push', () => {
  it('pushes every signed update: same digests, shared blobs skipped or mounted, the update attached', async () => {
    const trust = await loadTrustMaterial(trustDir);
    const r = await pushMedia({ mediaRoot: stick, to: `docker://${reg.host}/site`, trust, registry: { tlsVerify: false } });
    expect(r.map((u) => u.image)).toEqual([`docker://${reg.host}/site/kiosk:1.0.0`, `docker://${reg.host}/site/kiosk:1.1.0`, `docker://${reg.host}/site/lobby:1.0.0`]);
    // 1.0.0: config + layer uploaded; 1.1.0: the shared layer is already there; lobby: mounted from site/kiosk
    expect(r.map((u) => u.blobs)).toEqual([
      { present: 0, mounted: 0, uploaded: 2 },
      { present: 1, mounted: 0, uploaded: 2 },
      { present: 0, mounted: 2, uploaded: 0 },
    ]);
    expect(r.every((u) => u.referrersTag)).toBe(true);
    for (const [id, repo] of [['kiosk-1.0.0', 'site/kiosk:1.0.0'], ['kiosk-1.1.0', 'site/kiosk:1.1.0'], ['lobby-1.0.0', 'site/lobby:1.0.0']] as const) {
      const raw = await inspectRaw(reg, repo);
      expect(`sha256:${createHash('sha256').update(raw).digest('hex')}`, id).toBe((await stickManifest(id)).digest);
    }
  });

  it('skopeo copies the pushed image back with the same blobs as the stick', async () => {
    const out = path.join(kit.dir, 'copied');
    await run('skopeo', ['copy', '--quiet', '--src-tls-verify=false', `docker://${reg.host}/site/kiosk:1.1.0`, `oci:${out}:x`]);
    const names = await fsp.readdir(path.join(out, 'blobs', 'sha256'));
    const onStick = new Set(await fsp.readdir(path.join(stick, 'FERRY', 'oci', 'blobs', 'sha256')));
    expect(names.length).toBe(4);
    expect(names.every((n) => onStick.has(n))).toBe(true);
  });

  it('attaches the update manifest and its signature as an artifact whose subject is the image', async () => {
    const subject = await stickManifest('kiosk-1.1.0');
    const client = await RegistryClient.open(parseRegistryRef(`${reg.host}/site/kiosk:1.1.0`), { tlsVerify: false });
    try {
      const index = JSON.parse((await client.manifest(referrersTag(subject.digest), 1 << 20)).bytes.toString()) as { manifests: Array<{ digest: string; artifactType: string }> };
      expect(index.manifests).toHaveLength(1);
      expect(index.manifests[0]!.artifactType).toBe(FERRY_UPDATE_ARTIFACT);
      const art = JSON.parse((await client.manifest(index.manifests[0]!.digest, 1 << 20)).bytes.toString()) as { subject: { digest: string }; layers: Array<{ digest: string; size: number }> };
      expect(art.subject.digest).toBe(subject.digest);
      const fetch = async (d: string) => readCapped((await client.blob(d, 0)).res, 1 << 24, d);
      expect(await fetch(art.layers[0]!.digest)).toEqual(await fsp.readFile(path.join(stick, 'FERRY', 'updates', 'kiosk-1.1.0.json')));
      expect(await fetch(art.layers[1]!.digest)).toEqual(await fsp.readFile(path.join(stick, 'FERRY', 'updates', 'kiosk-1.1.0.json.p7s')));
    } finally {
      client.close();
    }
  });

  it('pushing again uploads nothing and does not repeat the artifact in the referrers index', async () => {
    const r = await pushMedia({ mediaRoot: stick, to: `docker://${reg.host}/site`, updates: ['kiosk-1.1.0'], registry: { tlsVerify: false } });
    expect(r[0]!.blobs).toEqual({ present: 3, mounted: 0, uploaded: 0 });
    const idx = JSON.parse(await inspectRaw(reg, `site/kiosk:${referrersTag((await stickManifest('kiosk-1.1.0')).digest)}`)) as { manifests: unknown[] };
    expect(idx.manifests).toHaveLength(1);
  });

  it('refuses a damaged blob as it is read: its upload never completes and no image is named', async () => {
    const bad = await kit.makeStick([{ image: 'v1', version: '1.0.0', counter: 100, target: 'damaged' }]);
    const layer = (JSON.parse(await fsp.readFile(path.join(bad, 'FERRY', 'updates', 'damaged-1.0.0.json'), 'utf8')) as { image: { manifest: { digest: string } } }).image.manifest;
    const man = JSON.parse(await fsp.readFile(path.join(bad, 'FERRY', 'oci', 'blobs', 'sha256', layer.digest.slice(7)), 'utf8')) as { layers: Array<{ digest: string }> };
    const f = path.join(bad, 'FERRY', 'oci', 'blobs', 'sha256', man.layers[0]!.digest.slice(7));
    const bytes = await fsp.readFile(f);
    bytes[100] = bytes[100]! ^ 1;
    await fsp.writeFile(f, bytes);
    await expect(pushMedia({ mediaRoot: bad, to: `docker://${reg.host}/site`, registry: { tlsVerify: false } })).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' });
    await expect(inspectRaw(reg, 'site/damaged:1.0.0')).rejects.toThrow(/manifest unknown|not found|MANIFEST_UNKNOWN|NAME_UNKNOWN/i);
    const client = await RegistryClient.open(parseRegistryRef(`${reg.host}/site/damaged:1.0.0`), { tlsVerify: false });
    try {
      expect(await hasBlob(client, man.layers[0]!.digest)).toBe(false);
    } finally {
      client.close();
    }
  });

  it('refuses a stick that lacks a blob the registry does not have (BLOB_MISSING)', async () => {
    const bad = await kit.makeStick([{ image: 'v2', version: '1.1.0', counter: 110, target: 'lacking' }]);
    const m = (JSON.parse(await fsp.readFile(path.join(bad, 'FERRY', 'updates', 'lacking-1.1.0.json'), 'utf8')) as { image: { manifest: { digest: string } } }).image.manifest;
    const man = JSON.parse(await fsp.readFile(path.join(bad, 'FERRY', 'oci', 'blobs', 'sha256', m.digest.slice(7)), 'utf8')) as { layers: Array<{ digest: string }> };
    await fsp.rm(path.join(bad, 'FERRY', 'oci', 'blobs', 'sha256', man.layers.at(-1)!.digest.slice(7)));
    await expect(pushMedia({ mediaRoot: bad, to: `docker://${reg.host}/fresh`, registry: { tlsVerify: false } })).rejects.toMatchObject({ code: 'BLOB_MISSING' });
    await expect(inspectRaw(reg, 'fresh/lacking:1.1.0')).rejects.toThrow();
  });

  it('refuses an update signed by an untrusted key with --trust, before anything is pushed', async () => {
    const other = await makeStickKit();
    try {
      const foreign = await other.makeStick([{ image: 'v1', version: '1.0.0', counter: 100, target: 'foreign' }]);
      await expect(pushMedia({ mediaRoot: foreign, to: `docker://${reg.host}/site`, trust: await loadTrustMaterial(trustDir), registry: { tlsVerify: false } })).rejects.toMatchObject({ code: 'UNTRUSTED_SIGNER' });
      await expect(inspectRaw(reg, 'site/foreign:1.0.0')).rejects.toThrow();
    } finally {
      await other.cleanup();
    }
  }, 60_000);

  it('pushes to a TLS registry with bearer tokens: push scope asked with the auth-file credentials, --cert-dir trusted', async () => {
    const secure = await startRegistry({ tls: true, auth: 'token' });
    try {
      const r = await pushMedia({ mediaRoot: stick, to: `docker://${secure.host}/site`, updates: ['kiosk-1.0.0'], registry: secure.clientOptions });
      expect(r[0]!.blobs.uploaded).toBe(2);
      expect(secure.token!.requests.map((q) => q.scope)).toContain('repository:site/kiosk:pull,push');
      expect(secure.token!.requests.every((q) => q.user === REGISTRY_USER)).toBe(true);
      const raw = await inspectRaw(secure, 'site/kiosk:1.0.0');
      expect(`sha256:${createHash('sha256').update(raw).digest('hex')}`).toBe((await stickManifest('kiosk-1.0.0')).digest);
      await expect(pushMedia({ mediaRoot: stick, to: `docker://${secure.host}/site`, updates: ['kiosk-1.0.0'], registry: { tlsVerify: true } })).rejects.toMatchObject({ code: 'REGISTRY_TLS' });
    } finally {
      await secure.stop();
    }
  }, 60_000);
});

