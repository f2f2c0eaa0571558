/**
 * A device at a seeded site needs no stick: `ferry push` puts a signed stick into a real
 * registry, and `ferry device apply --media docker://…/kiosk` finds the signed update attached
 * to the image, verifies it as from a stick and streams the layers from the registry. A
 * registry that serves a tampered blob (the fault proxy) is refused like a tampered stick.
 * A registry with the referrers API (the referrers proxy in front) is read through the API.
 */
import { execFile } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pushMedia } from '../../src/media/push.js';
import { OciLayout } from '../../src/oci/layout.js';
import { grubList, makeDevice, type TestDevice } from '../helpers/device.js';
import { makeStickKit, type StickKit } from '../helpers/device-stick.js';
import { type FaultProxy, startFaultProxy } from '../helpers/registry-proxy.js';
import { type ReferrersProxy, startReferrersProxy } from '../helpers/registry-referrers.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { ensureBuilt, MAIN, NODE } from './device-run.js';

let kit: StickKit;
let reg: TestRegistry;
let proxy: FaultProxy;
let dev: TestDevice;
let api: ReferrersProxy;

/** `ferry` on the device, without blocking this process (the fault proxy runs in it). */
function ferryAsync(args: string[], on: TestDevice = dev): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(NODE, [MAIN, ...args, '--config', on.configFile], { env: { ...process.env, FERRY_CMDLINE_FILE: on.cmdlineFile }, timeout: 120_000 }, (e, out, err) => {
      resolve({ code: e ? Number((e as { code?: unknown }).code ?? 1) : 0, out, err });
    });
  });
}

beforeAll(async () => {
  ensureBuilt();
  kit = await makeStickKit();
  reg = await startRegistry();
  proxy = await startFaultProxy(reg.host);
  const stick = await kit.makeStick([{ image: 'v1', version: '1.0.0', counter: 100 }]);
  await pushMedia({ mediaRoot: stick, to: `docker://${reg.host}/site`, registry: { tlsVerify: false } });
  api = await startReferrersProxy(reg.host);
  const [viaApi] = await pushMedia({ mediaRoot: stick, to: `docker://${api.host}/api`, registry: { tlsVerify: false } });
  if (viaApi!.referrersTag) throw new Error('the referrers proxy was not taken for a registry with the referrers API');
  dev = await makeDevice({ kind: 'grub', extra: { deviceId: 'kiosk-registry-2' } });
  await kit.installTrust(dev.trustDir);
}, 120_000);

afterAll(async () => {
  await dev?.cleanup();
  await proxy?.close();
  await api?.close();
  await reg?.stop();
  await kit?.cleanup();
});

describe('ferry device apply --media docker://', () => {
  it('refuses a registry that serves a tampered layer, like a tampered stick, and changes nothing', async () => {
    const layer = (await (await OciLayout.open(kit.samples.layout)).resolveImage(kit.samples.v1Manifest)).manifest.layers[0]!;
    proxy.faults.corruptBlob = layer.digest;
    const r = await ferryAsync(['device', 'apply', '--media', `docker://${proxy.host}/site/kiosk`, '--tls-verify=false', '--yes', '--json']);
    expect(r.code).toBe(3);
    expect(JSON.parse(r.out.trim().split('\n').pop()!)).toMatchObject({ ok: false, error: { code: 'DIGEST_MISMATCH' } });
    expect(grubList(dev).ORDER).toBe('A B');
    expect(proxy.seen.some((s) => s.path.endsWith(layer.digest))).toBe(true);
  });

  it('finds the signed update attached to the image, verifies it and installs from the registry', async () => {
    const r = await ferryAsync(['device', 'apply', '--media', `docker://${reg.host}/site/kiosk`, '--tls-verify=false', '--yes', '--json']);
    expect(r.code, r.out + r.err).toBe(0);
    expect(JSON.parse(r.out.trim().split('\n').pop()!)).toMatchObject({ ok: true, plan: { target: 'B', update: { id: 'kiosk-1.0.0' } } });
    expect(grubList(dev).ORDER).toBe('B A');
  });

  it('installs from a registry with the referrers API, the update found through the API', async () => {
    const other = await makeDevice({ kind: 'grub', extra: { deviceId: 'kiosk-registry-api' } });
    try {
      await kit.installTrust(other.trustDir);
      api.seen.length = 0;
      const r = await ferryAsync(['device', 'apply', '--media', `docker://${api.host}/api/kiosk`, '--tls-verify=false', '--yes', '--json'], other);
      expect(r.code, r.out + r.err).toBe(0);
      expect(JSON.parse(r.out.trim().split('\n').pop()!)).toMatchObject({ ok: true, plan: { target: 'B', update: { id: 'kiosk-1.0.0' } } });
      expect(grubList(other).ORDER).toBe('B A');
      expect(api.seen.some((s) => s.startsWith('GET /v2/api/kiosk/referrers/sha256:'))).toBe(true);
      expect(api.seen.some((s) => /manifests\/sha256-[0-9a-f]{64}$/.test(s))).toBe(false);
    } finally {
      await other.cleanup();
    }
  });

  it('ferry device auto without --media installs from the site registry named in the config (media.registry)', async () => {
    const site = await makeDevice({ kind: 'grub', extra: { deviceId: 'kiosk-registry-auto', onInsert: 'auto', media: { registry: `docker://${api.host}/api/kiosk`, tlsVerify: false } } });
    try {
      await kit.installTrust(site.trustDir);
      const r = await ferryAsync(['device', 'auto', '--no-console'], site);
      expect(r.code, r.out + r.err).toBe(0);
      expect(r.err).toContain('ferry: chose kiosk-1.0.0 (version 1.0.0) for slot B');
      expect(r.out).toBe('installed kiosk-1.0.0 into slot B; it starts at the next reboot\n');
      expect(grubList(site).ORDER).toBe('B A');
    } finally {
      await site.cleanup();
    }
  });

  it('ferry device auto without --media and without media.registry is a usage error', async () => {
    const r = await ferryAsync(['device', 'auto', '--no-console', '--json']);
    expect(r.code).toBe(2);
    expect(JSON.parse(r.out.trim().split('\n').pop()!)).toMatchObject({ ok: false, error: { code: 'USAGE' } });
  });
});
