/**
 * `ferry campaign` through the built CLI, from a checkout-like folder laid out as `npm run
 * demo` leaves it (demo-work: sample images, sample PKI with the build signer revoked):
 * the sample campaign builds as is onto two sticks, which skopeo, umoci, `ferry verify
 * --trust` and `ferry campaign check` accept; a re-run changes nothing; a build killed
 * mid-write finishes on a re-run; a broken campaign is refused listing every line; plan
 * says which class gets what.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initRoot, issueCertificate, revokeCertificate } from '../../src/trust/pki.js';
import { tarArchive, writeTestLayout } from '../helpers/layers.js';
import { buildSampleImages } from '../helpers/samples.js';
import { tempDir } from '../media/fixtures.js';

const NODE = path.resolve('node_modules/.bin/node');
const CLI = path.resolve('dist/src/cli/main.js');
let co: string; // the checkout-like folder (cwd of every run)

function ferry(...args: string[]) {
  const r = spawnSync(NODE, [CLI, ...args], { encoding: 'utf8', cwd: co });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

async function treeStamp(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fsp.readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const st = await fsp.stat(path.join(e.parentPath, e.name));
    out.push(`${path.relative(dir, path.join(e.parentPath, e.name))} ${st.size} ${st.mtimeMs}`);
  }
  return out.sort();
}

beforeAll(async () => {
  co = await tempDir('ferry-campaign-e2e-');
  const work = path.join(co, 'demo-work');
  await buildSampleImages(work);
  const pki = path.join(work, 'pki');
  await initRoot({ out: path.join(pki, 'root'), name: 'ferry demo root' });
  await issueCertificate({ issuerDir: path.join(pki, 'root'), profile: 'signer', name: 'build signer', days: 365, out: path.join(pki, 'build') });
  await issueCertificate({ issuerDir: path.join(pki, 'root'), profile: 'signer', name: 'QA signer', days: 365, out: path.join(pki, 'qa') });
  await revokeCertificate({ rootDir: path.join(pki, 'root'), certFile: path.join(pki, 'build', 'cert.pem') });
  await fsp.mkdir(path.join(pki, 'trust', 'roots'), { recursive: true });
  await fsp.copyFile(path.join(pki, 'root', 'cert.pem'), path.join(pki, 'trust', 'roots', 'root.pem'));
  await fsp.mkdir(path.join(co, 'samples', 'campaign'), { recursive: true });
  await fsp.copyFile('samples/campaign/campaign.yaml', path.join(co, 'samples', 'campaign', 'campaign.yaml'));
  await fsp.copyFile('samples/release-notes-1.1.0.txt', path.join(co, 'samples', 'release-notes-1.1.0.txt'));
  for (const s of ['A', 'B']) await fsp.mkdir(path.join(co, s));
});
afterAll(async () => {
  await fsp.rm(co, { recursive: true, force: true });
});

describe('ferry campaign build (the sample campaign)', () => {
  it('builds samples/campaign/campaign.yaml as is onto --media A --media B', () => {
    const r = ferry('campaign', 'build', 'samples/campaign/campaign.yaml', '--media', 'A', '--media', 'B');
    expect(r.code, r.err + r.out).toBe(0);
    expect(r.out).toContain('2 of 2 stick(s) complete');
    expect(r.out).toMatch(/kiosk-1\.1\.0 exported .*, signed/);
  });

  it('each stick passes ferry verify --trust, campaign check, skopeo and umoci', async () => {
    for (const s of ['A', 'B']) {
      const v = ferry('verify', '--media', s, '--trust', 'demo-work/pki/trust');
      expect(v.code, v.err + v.out).toBe(0);
      const c = ferry('campaign', 'check', 'samples/campaign/campaign.yaml', '--media', s);
      expect(c.code, c.err + c.out).toBe(0);
      expect(c.out).toContain(`${s} matches campaign sample-refresh`);
      for (const ref of ['kiosk-1.1.0', 'pos-1.0.0']) {
        const info = JSON.parse(execFileSync('skopeo', ['inspect', `oci:${path.join(co, s)}/FERRY/oci:${ref}`], { encoding: 'utf8' }));
        expect(info.Layers.length).toBeGreaterThan(0);
      }
      const bundle = path.join(co, `bundle-${s}`);
      execFileSync('umoci', ['unpack', '--image', `${path.join(co, s)}/FERRY/oci:kiosk-1.1.0`, bundle], { stdio: 'ignore' });
      expect(existsSync(path.join(bundle, 'rootfs', 'etc'))).toBe(true);
      await fsp.rm(bundle, { recursive: true, force: true });
      expect(await fsp.readFile(path.join(co, s, 'FERRY/trust/crl.pem'), 'utf8')).toBe(await fsp.readFile(path.join(co, 'demo-work/pki/root/crl.pem'), 'utf8'));
    }
  });

  it('a re-run skips everything and changes no file', async () => {
    const before = await treeStamp(path.join(co, 'A'));
    const r = ferry('campaign', 'build', 'samples/campaign/campaign.yaml', '--media', 'A', '--media', 'B', '--json');
    expect(r.code, r.err).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.ok).toBe(true);
    expect(j.sourceReads).toBe(0);
    for (const s of j.sticks) for (const st of s.steps) expect([st.image, st.signature, st.bytesWritten]).toEqual(['present', 'kept', 0]);
    expect(await treeStamp(path.join(co, 'A'))).toEqual(before);
  });

  it('check refuses a stick that lost its CRL, with CAMPAIGN_MISMATCH (exit 5)', async () => {
    await fsp.cp(path.join(co, 'B'), path.join(co, 'B2'), { recursive: true });
    await fsp.rm(path.join(co, 'B2/FERRY/trust/crl.pem'));
    const r = ferry('campaign', 'check', 'samples/campaign/campaign.yaml', '--media', 'B2');
    expect(r.code).toBe(5);
    expect(r.err).toContain('error[CAMPAIGN_MISMATCH]');
    expect(r.out).toContain('MISMATCH the CRL FERRY/trust/crl.pem is missing');
  });

  it('refuses a broken campaign before writing, one line per problem', async () => {
    const text = (await fsp.readFile(path.join(co, 'samples/campaign/campaign.yaml'), 'utf8')).replace('target: pos\n    version: 1.0.0', 'target: kiosk\n    colour: red\n    version: 1.1.0').replace('../../demo-work/pki/qa', '../../demo-work/pki/nobody');
    await fsp.writeFile(path.join(co, 'samples/campaign/broken.yaml'), text);
    await fsp.mkdir(path.join(co, 'C'));
    const r = ferry('campaign', 'build', 'samples/campaign/broken.yaml', '--media', 'C');
    expect(r.code).toBe(2);
    expect(r.err).toContain('error[CAMPAIGN_INVALID]');
    expect(r.err).toMatch(/broken\.yaml:16: signer folder .*nobody does not exist/);
    expect(r.err).toMatch(/broken\.yaml:\d+: images\[1\]: unknown key "colour"/);
    expect(r.err).toMatch(/broken\.yaml:\d+: image kiosk-1\.1\.0 is listed twice \(first at line \d+\)/);
    expect(await fsp.readdir(path.join(co, 'C'))).toEqual([]);
  });
});

describe('ferry campaign plan', () => {
  it('says which device class installs which update and why the others are skipped', () => {
    const r = ferry('campaign', 'plan', 'samples/campaign/campaign.yaml', '--device', 'acme,kiosk-v2=kiosk@1000000009999', '--device', 'acme,kiosk-v2', '--device', 'acme,pos-v1', '--device', 'acme,pos-v1=pos@1000000009999', '--at', '2026-06-01T00:00:00Z', '--json');
    expect(r.code, r.err).toBe(0);
    const plans = JSON.parse(r.out).plans as { compatible: string; installs?: string; nothing?: { code: string }; skipped: { id: string; code: string }[] }[];
    expect(plans.map((p) => [p.compatible, p.installs ?? p.nothing!.code, p.skipped.map((s) => `${s.id}:${s.code}`).sort()])).toEqual([
      ['acme,kiosk-v2', 'kiosk-1.1.0', ['pos-1.0.0:INCOMPATIBLE_DEVICE']],
      ['acme,kiosk-v2', 'NO_APPLICABLE_UPDATE', ['kiosk-1.1.0:REQUIREMENT_NOT_MET', 'pos-1.0.0:INCOMPATIBLE_DEVICE']],
      ['acme,pos-v1', 'pos-1.0.0', ['kiosk-1.1.0:INCOMPATIBLE_DEVICE']],
      ['acme,pos-v1', 'NO_APPLICABLE_UPDATE', ['kiosk-1.1.0:INCOMPATIBLE_DEVICE', 'pos-1.0.0:ALREADY_INSTALLED']],
    ]);
    const early = ferry('campaign', 'plan', 'samples/campaign/campaign.yaml', '--device', 'acme,kiosk-v2=kiosk@1000000009999', '--at', '2025-06-01T00:00:00Z');
    expect(early.code).toBe(0);
    expect(early.out).toMatch(/skips kiosk-1\.1\.0: NOT_YET_ROLLED_OUT/);
  });
});

describe('ferry campaign build killed mid-write', () => {
  it('a re-run after SIGKILL finishes both sticks, which then verify', async () => {
    const big = path.join(co, 'big');
    await writeTestLayout(path.join(big, 'layout'), [{ tar: tarArchive([{ name: 'big.bin', data: randomBytes(48 * 1024 * 1024) }]), compression: 'none' }], 'big-1.0.0');
    await fsp.writeFile(path.join(big, 'c.yaml'), `name: big\nsigners: [{ dir: ../demo-work/pki/qa }]\nimages:\n  - { image: "oci:layout:big-1.0.0", target: big, version: 1.0.0, compatible: ["acme,big"] }\n`);
    for (const s of ['K1', 'K2']) await fsp.mkdir(path.join(co, s));
    const child = spawn(NODE, [CLI, 'campaign', 'build', 'big/c.yaml', '--media', 'K1', '--media', 'K2'], { cwd: co, stdio: 'ignore' });
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    const blobs = path.join(co, 'K2/FERRY/oci/blobs/sha256');
    let killed = false;
    for (let i = 0; i < 30_000 && !killed && child.exitCode === null; i++) {
      const names = existsSync(blobs) ? readdirSync(blobs) : [];
      if (names.some((n) => n.startsWith('.ferry-tmp'))) {
        child.kill('SIGKILL');
        killed = true;
      } else await new Promise((r) => setTimeout(r, 2));
    }
    await exited;
    expect(killed).toBe(true);
    expect(existsSync(path.join(co, 'K2/FERRY/updates/big-1.0.0.json'))).toBe(false);
    const r = ferry('campaign', 'build', 'big/c.yaml', '--media', 'K1', '--media', 'K2', '--json');
    expect(r.code, r.err + r.out).toBe(0);
    for (const s of ['K1', 'K2']) {
      const v = ferry('verify', '--media', s, '--trust', 'demo-work/pki/trust');
      expect(v.code, v.err + v.out).toBe(0);
      expect(readdirSync(path.join(co, s, 'FERRY/oci/blobs/sha256')).filter((n) => n.startsWith('.ferry-tmp'))).toEqual([]);
    }
  });
});
