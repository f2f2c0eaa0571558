/**
 * The signed update beside its image, in both modes of distribution-spec 1.1: a registry with
 * the referrers API (docker-registry 2.8 behind a small proxy that implements it: OCI-Subject
 * on the manifest PUT, GET /v2/<name>/referrers/<digest>) keeps the link itself, so `ferry
 * push` writes no referrers tag and the device's registry media finds the update through the
 * API; a registry without it (2.8 alone, seen through the logging fault proxy) gets the
 * sha256-<hex> tag, which the device reads after the API answers 404.
 */
import { createHash } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pushMedia } from '../../src/media/push.js';
import { registryMediaSource, setRegistryMediaOptions } from '../../src/media/registry-media.js';
import { RegistryClient, readCapped } from '../../src/oci/registry/client.js';
import { parseRegistryRef } from '../../src/oci/registry/reference.js';
import { FERRY_UPDATE_ARTIFACT, referrersTag } from '../../src/oci/registry/referrers.js';
import { getManifestIfAny } from '../../src/oci/registry/upload.js';
import { Caps, MediaType } from '../../src/oci/types.js';
import { makeStickKit, type StickKit } from '../helpers/device-stick.js';
import { type FaultProxy, startFaultProxy } from '../helpers/registry-proxy.js';
import { type ReferrersProxy, startReferrersProxy } from '../helpers/registry-referrers.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';

let kit: StickKit;
let reg: TestRegistry;
let api: ReferrersProxy;
let plain: FaultProxy;
let stick: string;
let subject: string;

beforeAll(async () => {
  kit = await makeStickKit();
  reg = await startRegistry();
  api = await startReferrersProxy(reg.host);
  plain = await startFaultProxy(reg.host);
  stick = await kit.makeStick([{ image: 'v1', version: '1.0.0', counter: 100 }]);
  subject = (JSON.parse(await fsp.readFile(path.join(stick, 'FERRY', 'updates', 'kiosk-1.0.0.json'), 'utf8')) as { image: { manifest: { digest: string } } }).image.manifest.digest;
  setRegistryMediaOptions({ tlsVerify: false });
}, 120_000);

afterAll(async () => {
  setRegistryMediaOptions({});
  await api?.close();
  await plain?.close();
  await reg?.stop();
  await kit?.cleanup();
});

async function tagIndex(repo: string): Promise<Buffer | undefined> {
  const client = await RegistryClient.open(parseRegistryRef(`${reg.host}/${repo}:x`), { tlsVerify: false });
  try {
    return await getManifestIfAny(client, referrersTag(subject), MediaType.imageIndex, Caps.indexJson);
  } finally {
    client.close();
  }
}

describe('the referrers API and its tag fallback', () => {
  it('push: a registry that answers OCI-Subject keeps the link, no referrers tag is written', async () => {
    const [r] = await pushMedia({ mediaRoot: stick, to: `docker://${api.host}/api`, registry: { tlsVerify: false } });
    expect(r!.referrersTag).toBe(false);
    expect(api.seen).not.toContain(`PUT /v2/api/kiosk/manifests/${referrersTag(subject)}`);
    expect(await tagIndex('api/kiosk')).toBeUndefined();
    // the API lists the artifact with its type and the update id
    const client = await RegistryClient.open(parseRegistryRef(`${api.host}/api/kiosk:1.0.0`), { tlsVerify: false });
    const url = new URL(`http://${api.host}/v2/api/kiosk/referrers/${subject}?artifactType=${encodeURIComponent(FERRY_UPDATE_ARTIFACT)}`);
    const index = JSON.parse((await readCapped(await client.request('GET', url, {}, 'referrers'), 1 << 20, 'referrers')).toString()) as { manifests: Array<{ digest: string; artifactType: string; annotations: Record<string, string> }> };
    client.close();
    expect(index.manifests).toEqual([expect.objectContaining({ digest: r!.artifact.digest, artifactType: FERRY_UPDATE_ARTIFACT, annotations: expect.objectContaining({ 'io.ferry.update.id': 'kiosk-1.0.0' }) })]);
  });

  it('push: a registry without the API gets the sha256-<hex> tag listing the artifact', async () => {
    const [r] = await pushMedia({ mediaRoot: stick, to: `docker://${plain.host}/plain`, registry: { tlsVerify: false } });
    expect(r!.referrersTag).toBe(true);
    const index = JSON.parse((await tagIndex('plain/kiosk'))!.toString()) as { manifests: Array<{ digest: string }> };
    expect(index.manifests.map((d) => d.digest)).toEqual([r!.artifact.digest]);
  });

  it('device media: finds the update through the referrers API, without reading a tag', async () => {
    api.seen.length = 0;
    const media = await registryMediaSource(`docker://${api.host}/api/kiosk`);
    expect(await media.list('updates')).toEqual(['kiosk-1.0.0.json', 'kiosk-1.0.0.json.p7s']);
    const signed = await media.readFile('updates/kiosk-1.0.0.json', Caps.updateManifest, 'update');
    expect(signed).toEqual(await fsp.readFile(path.join(stick, 'FERRY', 'updates', 'kiosk-1.0.0.json')));
    expect(api.seen).toContain(`GET /v2/api/kiosk/referrers/${subject}`);
    expect(api.seen.some((s) => s.includes(referrersTag(subject)))).toBe(false);
  });

  it('device media: falls back to the referrers tag when the API answers 404', async () => {
    plain.seen.length = 0;
    const media = await registryMediaSource(`docker://${plain.host}/plain/kiosk`);
    expect(await media.list('updates')).toEqual(['kiosk-1.0.0.json', 'kiosk-1.0.0.json.p7s']);
    const sig = await media.readFile('updates/kiosk-1.0.0.json.p7s', Caps.signature, 'signature');
    expect(createHash('sha256').update(sig!).digest('hex')).toBe(createHash('sha256').update(await fsp.readFile(path.join(stick, 'FERRY', 'updates', 'kiosk-1.0.0.json.p7s'))).digest('hex'));
    const paths = plain.seen.map((s) => s.path.split('?')[0]);
    expect(paths.indexOf(`/v2/plain/kiosk/referrers/${subject}`)).toBeGreaterThanOrEqual(0);
    expect(paths.indexOf(`/v2/plain/kiosk/manifests/${referrersTag(subject)}`)).toBeGreaterThan(paths.indexOf(`/v2/plain/kiosk/referrers/${subject}`));
  });
});
