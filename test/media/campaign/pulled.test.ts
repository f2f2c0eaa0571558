/**
 * A stick that fails mid-write (made read-only: its blob folder immutable; or pulled: its
 * folder removed) while a large blob streams to both sticks: that stick is reported and
 * dropped, the other completes, and a re-run finishes the failed one.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, rmSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCampaign, type CampaignBuildResult } from '../../../src/media/campaign/build.js';
import { loadCampaign } from '../../../src/media/campaign/load.js';
import { verifyMediaBlobs } from '../../../src/media/verify.js';
import { initRoot, issueCertificate } from '../../../src/trust/pki.js';
import { tarArchive, writeTestLayout } from '../../helpers/layers.js';
import { tempDir } from '../fixtures.js';

let dir: string;
let campaignFile: string;

beforeAll(async () => {
  dir = await tempDir('ferry-campaign-pulled-');
  await initRoot({ out: path.join(dir, 'root') });
  await issueCertificate({ issuerDir: path.join(dir, 'root'), profile: 'signer', name: 'build', days: 60, out: path.join(dir, 'build') });
  // one 48 MiB layer: its copy spans many event-loop turns, so the stick can fail mid-blob
  await writeTestLayout(path.join(dir, 'layout'), [{ tar: tarArchive([{ name: 'big.bin', data: randomBytes(48 * 1024 * 1024) }]), compression: 'none' }], 'big-1.0.0');
  campaignFile = path.join(dir, 'campaign.yaml');
  await fsp.writeFile(campaignFile, `name: pulled\nsigners: [{ dir: build }]\nimages:\n  - { image: "oci:layout:big-1.0.0", target: big, version: 1.0.0, compatible: ["acme,big"] }\n`);
});
afterAll(async () => {
  await fsp.rm(dir, { recursive: true, force: true });
});

/** Run the build; `onTemp` runs (synchronously, once) the moment stick `b` holds a blob temp file. */
async function buildWhile(a: string, b: string, onTemp: () => void): Promise<{ r: CampaignBuildResult; fired: boolean }> {
  const blobs = path.join(b, 'FERRY', 'oci', 'blobs', 'sha256');
  let fired = false;
  const timer = setInterval(() => {
    let names: string[] = [];
    try {
      names = readdirSync(blobs);
    } catch {
      return;
    }
    if (!fired && names.some((n) => n.startsWith('.ferry-tmp'))) {
      fired = true;
      onTemp();
    }
  }, 1);
  try {
    return { r: await buildCampaign({ campaign: await loadCampaign(campaignFile), media: [a, b] }), fired };
  } finally {
    clearInterval(timer);
  }
}

async function fresh(name: string): Promise<string> {
  const p = path.join(dir, name);
  await fsp.rm(p, { recursive: true, force: true });
  await fsp.mkdir(p);
  return p;
}

function expectDone(r: CampaignBuildResult, i: number, image: 'exported' | 'present'): void {
  expect(r.sticks[i]!.ok, JSON.stringify(r.sticks[i]!.error)).toBe(true);
  expect(r.sticks[i]!.steps.map((s) => [s.update, s.image])).toEqual([['big-1.0.0', image]]);
}

describe('a stick that fails mid-build', () => {
  it('made read-only mid-write: it is dropped, the other stick completes, a re-run finishes it', async () => {
    const [a, b] = [await fresh('ro-a'), await fresh('ro-b')];
    const blobs = path.join(b, 'FERRY', 'oci', 'blobs', 'sha256');
    try {
      const { r, fired } = await buildWhile(a, b, () => execFileSync('chattr', ['+i', blobs]));
      expect(fired).toBe(true);
      expectDone(r, 0, 'exported');
      expect(r.sticks[1]!.ok).toBe(false);
      expect(r.sticks[1]!.error?.code).toMatch(/IO_ERROR|READ_ONLY_MEDIA/);
      expect(r.sourceReads).toBe(3); // the layer, config and manifest, once each for both sticks
      // the failed stick's layout is still valid and names nothing half-written
      expect(JSON.parse(await fsp.readFile(path.join(b, 'FERRY/oci/index.json'), 'utf8')).manifests).toEqual([]);
      expect(await fsp.readdir(path.join(b, 'FERRY/updates')).catch(() => [])).toEqual([]);
    } finally {
      execFileSync('chattr', ['-i', blobs]);
    }
    expect((await verifyMediaBlobs(a)).problems).toEqual([]);
    const again = await buildCampaign({ campaign: await loadCampaign(campaignFile), media: [a, b] });
    expectDone(again, 0, 'present');
    expectDone(again, 1, 'exported');
    expect(again.sticks[0]!.steps[0]!.signature).toBe('kept');
    expect((await fsp.readdir(blobs)).filter((n) => n.startsWith('.ferry-tmp'))).toEqual([]);
    expect((await verifyMediaBlobs(b)).problems).toEqual([]);
  });

  it('pulled mid-write (its folder removed): it is dropped, the other stick completes', async () => {
    const [a, b] = [await fresh('pull-a'), await fresh('pull-b')];
    const { r, fired } = await buildWhile(a, b, () => rmSync(b, { recursive: true, force: true }));
    expect(fired).toBe(true);
    expectDone(r, 0, 'exported');
    expect(r.sticks[1]!.ok).toBe(false);
    expect(r.sticks[1]!.error?.message).toContain(b);
    expect((await verifyMediaBlobs(a)).problems).toEqual([]);
    await fsp.mkdir(b); // the stick is back, empty
    const again = await buildCampaign({ campaign: await loadCampaign(campaignFile), media: [a, b] });
    expectDone(again, 1, 'exported');
    expect((await verifyMediaBlobs(b)).problems).toEqual([]);
  });
});
