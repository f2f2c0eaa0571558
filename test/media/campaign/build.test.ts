/**
 * campaign build through the library: two targets onto two sticks from one read of each
 * source blob; a re-run keeps everything; a stick made read-only or pulled mid-write is
 * dropped while the other completes, and a re-run finishes it.
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyUpdate } from '../../../src/device/apply.js';
import { deviceDeps } from '../../../src/device/deps.js';
import { isFerryError } from '../../../src/errors.js';
import { buildCampaign } from '../../../src/media/campaign/build.js';
import { deviceClassFromConfig, planCampaign } from '../../../src/media/campaign/plan.js';
import { loadCampaign } from '../../../src/media/campaign/load.js';
import { verifyMediaBlobs } from '../../../src/media/verify.js';
import { verifyMediaUpdates } from '../../../src/media/verify-updates.js';
import { loadTrustMaterial } from '../../../src/trust/load.js';
import { initRoot, issueCertificate } from '../../../src/trust/pki.js';
import { makeDevice } from '../../helpers/device.js';
import { buildSamplesInTemp, type SampleImages } from '../../helpers/samples.js';
import { tempDir } from '../fixtures.js';

let s: SampleImages & { dir: string };
let dir: string;
let campaignFile: string;

beforeAll(async () => {
  s = await buildSamplesInTemp('ferry-campaign-build-');
  dir = await tempDir('ferry-campaign-build-');
  await initRoot({ out: path.join(dir, 'root') });
  await issueCertificate({ issuerDir: path.join(dir, 'root'), profile: 'signer', name: 'build', days: 60, out: path.join(dir, 'build') });
  await issueCertificate({ issuerDir: path.join(dir, 'root'), profile: 'signer', name: 'qa', days: 60, out: path.join(dir, 'qa') });
  await fsp.mkdir(path.join(dir, 'trust', 'roots'), { recursive: true });
  await fsp.copyFile(path.join(dir, 'root', 'cert.pem'), path.join(dir, 'trust', 'roots', 'root.pem'));
  campaignFile = path.join(dir, 'campaign.yaml');
  await fsp.writeFile(
    campaignFile,
    `name: test-campaign
label: STICK
signers:
  - dir: build
  - dir: qa
images:
  - image: ${s.v2Archive}
    target: kiosk
    version: 1.1.0
    compatible: ["acme,kiosk-v2"]
    rollout: { notBefore: 2026-01-01T00:00:00Z, expires: 30 }
  - image: ${s.v1}
    target: pos
    version: 1.0.0
    compatible: ["acme,pos-v1"]
    requires: { minCounter: 0 }
`,
  );
});
afterAll(async () => {
  await fsp.rm(s.dir, { recursive: true, force: true });
  await fsp.rm(dir, { recursive: true, force: true });
});

async function stick(name: string): Promise<string> {
  const p = path.join(dir, name);
  await fsp.rm(p, { recursive: true, force: true });
  await fsp.mkdir(p);
  return p;
}

/** `ferry verify --trust` as a library: every blob and every signed update (2 signers). */
async function verifyStick(media: string): Promise<void> {
  const blobs = await verifyMediaBlobs(media);
  expect(blobs.problems).toEqual([]);
  const trust = await loadTrustMaterial(path.join(dir, 'trust'));
  const ups = await verifyMediaUpdates(media, trust, { requiredSigners: 2, ignoreRollout: true }, new Date(), { checkBlobs: true });
  expect(ups.map((u) => [u.id, u.ok])).toEqual([['kiosk-1.1.0', true], ['pos-1.0.0', true]]);
}

describe('buildCampaign', () => {
  it('writes both targets onto two sticks, reading each source blob once', async () => {
    const [a, b] = [await stick('a'), await stick('b')];
    const c = await loadCampaign(campaignFile);
    const r = await buildCampaign({ campaign: c, media: [a, b] });
    expect(r.sticks.map((x) => [x.ok, x.error])).toEqual([[true, undefined], [true, undefined]]);
    for (const x of r.sticks) expect(x.steps.map((st) => [st.update, st.image, st.signature])).toEqual([['kiosk-1.1.0', 'exported', 'signed'], ['pos-1.0.0', 'exported', 'signed']]);
    // kiosk: layers + config + manifest read once each; pos shares its base layer, which no stick asks for again
    const kiosk = JSON.parse(await fsp.readFile(path.join(a, 'FERRY/oci/index.json'), 'utf8')).manifests.length;
    expect(kiosk).toBe(2);
    // one source read per blob written, though two sticks wrote each
    const written = r.sticks[0]!.steps.reduce((n, st) => n + st.blobsWritten, 0);
    expect(r.sticks[1]!.steps.reduce((n, st) => n + st.blobsWritten, 0)).toBe(written);
    expect(r.sourceReads).toBe(written);
    expect(written).toBeGreaterThan(4);
    await verifyStick(a);
    await verifyStick(b);
    expect(JSON.parse(await fsp.readFile(path.join(b, 'FERRY/campaign.json'), 'utf8'))).toMatchObject({ name: 'test-campaign', label: 'STICK', updates: ['kiosk-1.1.0', 'pos-1.0.0'] });
    const m = JSON.parse(await fsp.readFile(path.join(b, 'FERRY/updates/kiosk-1.1.0.json'), 'utf8'));
    expect(m.rollout).toEqual({ notBefore: '2026-01-01T00:00:00Z' });
  });

  it('campaign plan predicts what ferry device apply does from the stick, for each device class', async () => {
    const c = await loadCampaign(campaignFile);
    const seen: string[][] = [];
    for (const compatible of ['acme,kiosk-v2', 'acme,pos-v1', 'acme,other']) {
      const dev = await makeDevice({ compatible });
      try {
        await fsp.mkdir(path.join(dev.trustDir, 'roots'), { recursive: true });
        await fsp.copyFile(path.join(dir, 'root', 'cert.pem'), path.join(dev.trustDir, 'roots', 'root.pem'));
        const [plan] = planCampaign(c, [await deviceClassFromConfig(dev.configFile)], new Date());
        const codes = (xs: { id: string; code: string }[]) => xs.map((x) => `${x.id}:${x.code}`).sort();
        try {
          const r = await applyUpdate({ ...dev.opts, mediaRoot: path.join(dir, 'a') }, deviceDeps);
          expect([compatible, r.plan.update.id, codes(r.skipped)]).toEqual([compatible, plan!.installs, codes(plan!.skipped)]);
          seen.push([compatible, r.plan.update.id]);
        } catch (e) {
          if (!isFerryError(e)) throw e;
          expect([compatible, e.code]).toEqual([compatible, plan!.nothing?.code]);
          seen.push([compatible, e.code]);
        }
      } finally {
        await dev.cleanup();
      }
    }
    // pos-1.0.0 requires.minCounter 0: a device running nothing of target pos is refused, by both
    expect(seen).toEqual([['acme,kiosk-v2', 'kiosk-1.1.0'], ['acme,pos-v1', 'NO_APPLICABLE_UPDATE'], ['acme,other', 'NO_APPLICABLE_UPDATE']]);
  });

  it('a re-run writes nothing: every image present, every signed update kept', async () => {
    const [a, b] = [path.join(dir, 'a'), path.join(dir, 'b')];
    const before = await fsp.stat(path.join(a, 'FERRY/updates/kiosk-1.1.0.json.p7s'));
    const r = await buildCampaign({ campaign: await loadCampaign(campaignFile), media: [a, b] });
    for (const x of r.sticks) {
      expect(x.ok).toBe(true);
      expect(x.steps.map((st) => [st.image, st.signature, st.bytesWritten])).toEqual([['present', 'kept', 0], ['present', 'kept', 0]]);
      expect(x.carried).toEqual([]);
    }
    expect(r.sourceReads).toBe(0);
    expect((await fsp.stat(path.join(a, 'FERRY/updates/kiosk-1.1.0.json.p7s'))).mtimeMs).toBe(before.mtimeMs);
  });

  it('re-signs an update whose fields no longer match the campaign', async () => {
    const a = path.join(dir, 'a');
    const text = (await fsp.readFile(campaignFile, 'utf8')).replace('compatible: ["acme,pos-v1"]', 'compatible: ["acme,pos-v1", "acme,pos-v1b"]');
    const changed = path.join(dir, 'changed.yaml');
    await fsp.writeFile(changed, text);
    const r = await buildCampaign({ campaign: await loadCampaign(changed), media: [a] });
    expect(r.sticks[0]!.steps.map((st) => [st.update, st.signature])).toEqual([['kiosk-1.1.0', 'kept'], ['pos-1.0.0', 'signed']]);
    const m = JSON.parse(await fsp.readFile(path.join(a, 'FERRY/updates/pos-1.0.0.json'), 'utf8'));
    expect(m.target.compatible).toContain('acme,pos-v1b');
  });
});
