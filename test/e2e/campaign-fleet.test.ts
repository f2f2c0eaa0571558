/**
 * The Proof of issue 15, end to end through the built CLI: a campaign of three device classes
 * (kiosk, POS, signage) built onto two sticks with `ferry campaign build`; three throwaway
 * devices (dir slots, file bootloader, their own compatible strings and device ids), each
 * provisioned with `ferry device init --csr-out` and enrolled with `ferry pki enroll-device`,
 * apply from one stick each; the signage player fails its health check after the (simulated)
 * reboot and rolls back; every receipt is flushed to the device's stick, collected from both
 * sticks into one store, and the report shows exactly that.
 */
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initRoot, issueCertificate } from '../../src/trust/pki.js';
import { makeDevice, simulateBoot, type TestDevice } from '../helpers/device.js';
import { buildSamplesInTemp, type SampleImages } from '../helpers/samples.js';
import { ensureBuilt, ferry, hq } from './device-run.js';

let dir: string;
let samples: SampleImages & { dir: string };
const p = (...x: string[]) => path.join(dir, ...x);
const devices: Record<'kiosk' | 'pos' | 'signage', TestDevice> = {} as never;
const CLASSES = { kiosk: 'acme,kiosk-v2', pos: 'acme,pos-v1', signage: 'acme,signage-v3' } as const;
const STICK_OF = { kiosk: 'stick-1', pos: 'stick-1', signage: 'stick-2' } as const;

function ok(r: { status: number | null; stdout: string; stderr: string } | { code: number | null; out: string; err: string }): string {
  const [code, out, err] = 'code' in r ? [r.code, r.out, r.err] : [r.status, r.stdout, r.stderr];
  expect(code, `${out}\n${err}`).toBe(0);
  return out;
}

beforeAll(async () => {
  ensureBuilt();
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'ferry-campaign-fleet-'));
  samples = await buildSamplesInTemp();
  await initRoot({ out: p('pki', 'root'), name: 'fleet root' });
  await issueCertificate({ issuerDir: p('pki', 'root'), profile: 'signer', name: 'release signer', days: 90, out: p('pki', 'signer') });
  ok(hq('pki', 'init-root', '--out', p('pki', 'device-ca'), '--name', 'fleet device CA', '--no-passphrase'));
  await fsp.writeFile(p('campaign.yaml'), [
    'name: winter-refresh',
    'label: WINTER-26',
    'signers:',
    '  - dir: pki/signer',
    'images:',
    `  - { image: "${samples.v2}", target: kiosk, version: 1.1.0, compatible: ["${CLASSES.kiosk}"] }`,
    `  - { image: "${samples.v1}", target: pos, version: 1.0.0, compatible: ["${CLASSES.pos}"] }`,
    `  - { image: "${samples.v2}", target: signage, version: 1.1.0, compatible: ["${CLASSES.signage}"] }`,
    '',
  ].join('\n'));
  for (const kind of ['kiosk', 'pos', 'signage'] as const) {
    devices[kind] = await makeDevice({
      kind: 'file', compatible: CLASSES[kind], extra: { deviceId: `${kind}-0001` },
      healthCheck: { command: kind === 'signage' ? 'echo signage player crashed >&2; exit 3' : 'true', timeoutSec: 10 },
    });
  }
}, 300_000);
afterAll(async () => {
  for (const d of Object.values(devices)) await d?.cleanup();
  await fsp.rm(dir, { recursive: true, force: true });
  await fsp.rm(samples?.dir ?? '/nonexistent', { recursive: true, force: true });
});

describe('a campaign to three device classes, back as one report', () => {
  it('builds the campaign onto two sticks', () => {
    const out = ok(hq('campaign', 'build', p('campaign.yaml'), '--media', p('stick-1'), '--media', p('stick-2'), '--create', '--no-chunk-cache'));
    expect(out).toContain('2 of 2 stick(s) complete');
  });

  it('provisions each device and enrols its receipt key at headquarters', () => {
    for (const [kind, dev] of Object.entries(devices)) {
      const init = ok(ferry(dev, ['device', 'init', '--trust-root', p('pki', 'root', 'cert.pem'), '--version', '1.0.0-factory', '--yes', '--csr-out', p(`${kind}.csr`)]));
      expect(init).toMatch(/receipt key sha256:[0-9a-f]{64} .*enrolment request written to/);
      const enrol = ok(hq('pki', 'enroll-device', '--ca', p('pki', 'device-ca'), '--csr', p(`${kind}.csr`)));
      expect(enrol).toContain(`enrolled device ${kind}-0001:`);
    }
  });

  it('each device applies from its stick; signage fails its health check and rolls back', async () => {
    for (const [kind, dev] of Object.entries(devices) as Array<[keyof typeof devices, TestDevice]>) {
      const stick = p(STICK_OF[kind]);
      ok(ferry(dev, ['device', 'apply', '--media', stick, '--yes']));
      expect(await simulateBoot(dev)).toBe('B');
      const bc = ferry(dev, ['device', 'boot-check', '--media', stick]);
      if (kind === 'signage') {
        expect(bc.status).toBe(1);
        expect(bc.stderr).toMatch(/error\[HEALTH_CHECK_FAILED\]: slot B \(1\.1\.0\): health check failed: .*signage player crashed.*rolling back to slot A/);
        expect(await simulateBoot(dev)).toBe('A');
        ok(ferry(dev, ['device', 'boot-check', '--media', stick]));
      } else ok(bc);
      ok(ferry(dev, ['device', 'status', '--media', stick]));
    }
  });

  it('collects the receipts from both sticks and clears them', () => {
    const one = JSON.parse(ok(hq('receipts', 'collect', '--media', p('stick-1'), '--into', p('hq.sqlite'), '--clear', '--json')));
    expect(one).toMatchObject({ ok: true, found: 4, added: 4, cleared: 4, rejected: [] });
    const two = JSON.parse(ok(hq('receipts', 'collect', '--media', p('stick-2'), '--into', p('hq.sqlite'), '--clear', '--json')));
    expect(two).toMatchObject({ ok: true, found: 2, added: 2, cleared: 2, storeTotal: 6 });
  });

  it('reports exactly that: two updated, one rolled back with its reason, nothing else', () => {
    const base = ['receipts', 'report', '--from', p('hq.sqlite'), '--device-ca', p('pki', 'device-ca'), '--campaign', p('campaign.yaml')];
    const r = JSON.parse(ok(hq(...base, '--format', 'json')));
    expect(r.receipts).toEqual({ total: 6, counted: 6, excluded: { verified: 0, signed: 0, unenrolled: 0, 'bad-signature': 0, unsigned: 0 } });
    expect(r.devices.map((d: Record<string, unknown>) => [d.deviceId, d.site, d.compatible, d.state, d.running, d.pending ?? null])).toEqual([
      ['kiosk-0001', 'stick-1', CLASSES.kiosk, 'running', '1.1.0', null],
      ['pos-0001', 'stick-1', CLASSES.pos, 'running', '1.0.0', null],
      ['signage-0001', 'stick-2', CLASSES.signage, 'rolled-back', '1.0.0-factory', null],
    ]);
    expect(r.devices[2].reason).toMatch(/^health check failed: .*exited 3: signage player crashed/);
    expect(r.devices[2].history.map((h: Record<string, unknown>) => `${h.action} ${h.result} ${h.verdict}`)).toEqual(['apply success verified', 'boot-check rolled-back verified']);
    expect(r.campaign.targets.map((t: Record<string, unknown>) => [t.updateId, t.counts])).toEqual([
      ['kiosk-1.1.0', { updated: 1, pending: 0, failed: 0, 'rolled-back': 0, 'not-reached': 0 }],
      ['pos-1.0.0', { updated: 1, pending: 0, failed: 0, 'rolled-back': 0, 'not-reached': 0 }],
      ['signage-1.1.0', { updated: 0, pending: 0, failed: 0, 'rolled-back': 1, 'not-reached': 0 }],
    ]);
    expect(r.visits).toEqual([{ deviceId: 'signage-0001', site: 'stick-2', why: expect.stringMatching(/^rolled back from 1\.1\.0 to 1\.0\.0-factory: health check failed: .*exited 3: signage player crashed/) }]);
    const table = ok(hq(...base));
    expect(table).toMatch(/devices that need a visit: 1\n {2}signage-0001 \(stick-2\): rolled back from 1\.1\.0/);
  });
});
