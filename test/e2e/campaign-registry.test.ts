/**
 * `ferry campaign build` over images that live in a registry (docker://, a real
 * docker-registry on 127.0.0.1, plain HTTP) through the built CLI: two targets onto two
 * sticks, each blob fetched once for both, the same digests as the images pushed, sticks
 * that `ferry verify --trust` and skopeo accept; plain HTTP only with --tls-verify=false, as
 * in skopeo, and a refused registry leaves the sticks without any image.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initRoot, issueCertificate } from '../../src/trust/pki.js';
import { pushImage, startRegistry, type TestRegistry } from '../helpers/registry.js';
import { buildSamplesInTemp, type SampleImages } from '../helpers/samples.js';
import { tempDir } from '../media/fixtures.js';

const NODE = path.resolve('node_modules/.bin/node');
const CLI = path.resolve('dist/src/cli/main.js');
let dir: string;
let reg: TestRegistry;
let s: SampleImages & { dir: string };

function ferry(...args: string[]) {
  const r = spawnSync(NODE, [CLI, ...args], { encoding: 'utf8', cwd: dir });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

beforeAll(async () => {
  s = await buildSamplesInTemp('ferry-campaign-reg-samples-');
  dir = await tempDir('ferry-campaign-reg-');
  reg = await startRegistry();
  await pushImage(reg, s.v2Archive, 'kiosk:1.1.0');
  await pushImage(reg, s.v1Archive, 'pos:1.0.0');
  await initRoot({ out: path.join(dir, 'root') });
  await issueCertificate({ issuerDir: path.join(dir, 'root'), profile: 'signer', name: 'build', days: 60, out: path.join(dir, 'build') });
  await fsp.mkdir(path.join(dir, 'trust', 'roots'), { recursive: true });
  await fsp.copyFile(path.join(dir, 'root', 'cert.pem'), path.join(dir, 'trust', 'roots', 'root.pem'));
  await fsp.writeFile(
    path.join(dir, 'campaign.yaml'),
    `name: registry-campaign
signers:
  - dir: build
images:
  - image: docker://${reg.host}/kiosk:1.1.0
    target: kiosk
    version: 1.1.0
    compatible: ["acme,kiosk-v2"]
  - image: docker://${reg.host}/pos:1.0.0
    target: pos
    version: 1.0.0
    compatible: ["acme,pos-v1"]
`,
  );
  for (const m of ['A', 'B', 'C']) await fsp.mkdir(path.join(dir, m));
}, 180_000);

afterAll(async () => {
  await reg?.stop();
  await fsp.rm(dir, { recursive: true, force: true });
  await fsp.rm(s?.dir, { recursive: true, force: true });
});

describe('ferry campaign build from a registry', () => {
  it('refuses plain HTTP unless --tls-verify=false, and leaves the stick without any image', async () => {
    const r = ferry('campaign', 'build', 'campaign.yaml', '--media', 'C', '--json');
    expect(r.code, r.err + r.out).not.toBe(0);
    const j = JSON.parse(r.out);
    expect(j.ok).toBe(false);
    expect(j.error.code).toBe('REGISTRY_TLS');
    expect(j.error.message).toMatch(/^kiosk-1\.1\.0 \(.*campaign\.yaml:5\): .* needs --tls-verify=false/);
    expect(j.error.message).not.toContain('\n');
    const index = path.join(dir, 'C', 'FERRY', 'oci', 'index.json');
    const manifests = await fsp.readFile(index, 'utf8').catch(() => '');
    expect(manifests === '' || JSON.parse(manifests).manifests.length === 0).toBe(true);
    await expect(fsp.readdir(path.join(dir, 'C', 'FERRY', 'updates'))).rejects.toThrow(/ENOENT/);
    const bad = ferry('campaign', 'build', 'campaign.yaml', '--media', 'C', '--tls-verify', 'maybe');
    expect([bad.code, bad.err]).toEqual([2, expect.stringContaining('--tls-verify must be true or false')]);
  });

  it('writes both images onto two sticks with one fetch per blob, digest for digest as pushed', async () => {
    const r = ferry('campaign', 'build', 'campaign.yaml', '--media', 'A', '--media', 'B', '--tls-verify=false', '--json');
    expect(r.code, r.err + r.out).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.sticks.map((x: { ok: boolean }) => x.ok)).toEqual([true, true]);
    const written = j.sticks[0].steps.reduce((n: number, st: { blobsWritten: number }) => n + st.blobsWritten, 0);
    expect(j.sticks[1].steps.reduce((n: number, st: { blobsWritten: number }) => n + st.blobsWritten, 0)).toBe(written);
    expect(written).toBeGreaterThan(4);
    expect(j.sourceReads).toBe(written);
    for (const m of ['A', 'B']) {
      const v = ferry('verify', '--media', m, '--trust', 'trust');
      expect(v.code, v.err + v.out).toBe(0);
      for (const [ref, want] of [['kiosk-1.1.0', s.v2Manifest.digest], ['pos-1.0.0', s.v1Manifest.digest]] as const) {
        const info = JSON.parse(execFileSync('skopeo', ['inspect', `oci:${path.join(dir, m)}/FERRY/oci:${ref}`], { encoding: 'utf8' }));
        expect(info.Digest).toBe(want);
      }
    }
  });

  it('a re-run fetches nothing', () => {
    const r = ferry('campaign', 'build', 'campaign.yaml', '--media', 'A', '--media', 'B', '--tls-verify=false', '--json');
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out).sourceReads).toBe(0);
  });
});
