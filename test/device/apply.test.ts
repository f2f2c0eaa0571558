import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyUpdate } from '../../src/device/apply.js';
import { bootCheck } from '../../src/device/boot-check.js';
import { deviceDeps } from '../../src/device/deps.js';
import { rollback } from '../../src/device/maintenance.js';
import { loadState } from '../../src/device/state.js';
import type { ProgressEvent } from '../../src/progress.js';
import { makeDevice, simulateBoot, type TestDevice } from '../helpers/device.js';
import { makeStickKit, type StickKit } from '../helpers/device-stick.js';
import { issueCertificate, revokeCertificate } from '../../src/trust/pki.js';

let kit: StickKit;
let stick10: string;
let stick11: string;
const devices: TestDevice[] = [];

beforeAll(async () => {
  kit = await makeStickKit();
  stick10 = await kit.makeStick([{ image: 'v1', version: '1.0.0', counter: 100 }]);
  stick11 = await kit.makeStick([
    { image: 'v1', version: '1.0.0', counter: 100 },
    { image: 'v2', version: '1.1.0', counter: 110 },
  ]);
});
afterAll(async () => {
  for (const d of devices) await d.cleanup();
  await kit.cleanup();
});

async function freshDevice(kind: 'file' | 'grub' | 'uboot' = 'file'): Promise<TestDevice> {
  const dev = await makeDevice({ kind });
  devices.push(dev);
  await kit.installTrust(dev.trustDir);
  // health check: fails while <root>/unhealthy exists
  const cfg = JSON.parse(await fsp.readFile(dev.configFile, 'utf8'));
  cfg.healthCheck = { command: `test ! -e ${path.join(dev.root, 'unhealthy')}`, timeoutSec: 10 };
  await fsp.writeFile(dev.configFile, JSON.stringify(cfg));
  return dev;
}

async function bootFile(dev: TestDevice) {
  return JSON.parse(await fsp.readFile(dev.bootFile, 'utf8'));
}

describe('applyUpdate and bootCheck', () => {
  it('installs 1.0.0 into the inactive slot, switches the bootloader last, commits after a good boot', async () => {
    const dev = await freshDevice();
    const events: ProgressEvent[] = [];
    const r = await applyUpdate({ ...dev.opts, mediaRoot: stick10, progress: (e) => events.push(e) }, deviceDeps);
    expect(r.plan).toMatchObject({ target: 'B', booted: 'A' });
    expect(r.bytesWritten).toBeGreaterThan(0);
    expect(new Set(events.map((e) => e.step))).toEqual(new Set(['verify', 'write', 'sync', 'bootloader', 'receipt']));
    expect(await fsp.readFile(path.join(dev.root, 'slots', 'b', 'etc', 'os-release'), 'utf8')).toBe(await fsp.readFile(path.join(kit.samples.rootfsV1, 'etc', 'os-release'), 'utf8'));
    let state = await loadState(dev.stateDir);
    expect(state.slots.B).toMatchObject({ status: 'pending', version: '1.0.0', counter: 100, updateId: 'kiosk-1.0.0' });
    expect(state.counterFloor).toEqual({}); // the floor rises at commit, not at install
    expect(state.trustedTime).toBeDefined();
    expect(await bootFile(dev)).toMatchObject({ order: ['B', 'A'], slots: { B: { good: true, attemptsLeft: 3 }, A: { good: true } } });
    const receipts = await fsp.readdir(path.join(stick10, 'FERRY', 'receipts', '0123456789abcdef0123456789abcdef'));
    expect(receipts).toEqual([expect.stringMatching(/^\d{8}T\d{6}\.\d{3}Z-apply\.json$/)]);

    expect(await simulateBoot(dev)).toBe('B');
    const bc = await bootCheck({ ...dev.opts, noReboot: true }, deviceDeps);
    expect(bc.outcome).toBe('committed');
    state = await loadState(dev.stateDir);
    expect(state.slots.B.status).toBe('good');
    expect(state.counterFloor).toEqual({ kiosk: 100 });
    expect(state.pendingReceipts).toHaveLength(1); // boot-check ran without a stick
  });

  it('rolls back to 1.0.0 when 1.1.0 fails its health check, and refuses the downgrade afterwards', async () => {
    const dev = await freshDevice();
    await applyUpdate({ ...dev.opts, mediaRoot: stick10 }, deviceDeps);
    await simulateBoot(dev);
    await bootCheck({ ...dev.opts, noReboot: true }, deviceDeps);
    const r = await applyUpdate({ ...dev.opts, mediaRoot: stick11 }, deviceDeps);
    expect(r.plan.update.id).toBe('kiosk-1.1.0');
    expect(r.plan.target).toBe('A');
    expect(r.skipped.map((s) => s.code)).toEqual(['ALREADY_INSTALLED']);
    expect(await simulateBoot(dev)).toBe('A');
    await fsp.writeFile(path.join(dev.root, 'unhealthy'), '');
    const bc = await bootCheck({ ...dev.opts, noReboot: true }, deviceDeps);
    expect(bc.outcome).toBe('rolled-back');
    const state = await loadState(dev.stateDir);
    expect(state.slots.A).toMatchObject({ status: 'bad', version: '1.1.0', lastError: { code: 'HEALTH_CHECK_FAILED' } });
    expect(state.counterFloor).toEqual({ kiosk: 100 });
    expect(await simulateBoot(dev)).toBe('B');
    await fsp.rm(path.join(dev.root, 'unhealthy'));
    expect((await bootCheck({ ...dev.opts, noReboot: true }, deviceDeps)).outcome).toBe('already-good');
    // The failed release may be tried again (its counter is above the floor); 1.0.0 is already running.
    const downgrade = await kit.makeStick([{ image: 'v1', version: '0.9.0', counter: 90 }]);
    await expect(applyUpdate({ ...dev.opts, mediaRoot: downgrade }, deviceDeps)).rejects.toMatchObject({ code: 'DOWNGRADE_REFUSED' });
    expect((await loadState(dev.stateDir)).slots.A.status).toBe('bad');
  });

  it.each(['file', 'grub', 'uboot'] as const)('%s: falls back after the new slot used all its boot attempts without a boot check (power loss)', async (kind) => {
    const dev = await freshDevice(kind);
    await applyUpdate({ ...dev.opts, mediaRoot: stick10 }, deviceDeps);
    for (let i = 0; i < 3; i++) expect(await simulateBoot(dev)).toBe('B'); // boot-check never ran
    expect(await simulateBoot(dev)).toBe('A');
    const bc = await bootCheck({ ...dev.opts, noReboot: true }, deviceDeps);
    expect(bc.outcome).toBe('fell-back');
    const state = await loadState(dev.stateDir);
    expect(state.slots.B).toMatchObject({ status: 'bad', lastError: { message: expect.stringMatching(/within 3 boot attempts/) } });
    expect(state.slots.A.status).toBe('good');
    expect(await simulateBoot(dev)).toBe('A');
  });

  it.each(['file', 'grub', 'uboot'] as const)('%s: a boot-check run again before the reboot leaves the fresh install pending and primary', async (kind) => {
    const dev = await freshDevice(kind);
    await applyUpdate({ ...dev.opts, mediaRoot: stick10 }, deviceDeps);
    const bc = await bootCheck({ ...dev.opts, noReboot: true }, deviceDeps); // still running A: no reboot yet
    expect(bc.outcome).toBe('awaiting-reboot');
    expect((await loadState(dev.stateDir)).slots.B.status).toBe('pending');
    expect(await simulateBoot(dev)).toBe('B');
    expect((await bootCheck({ ...dev.opts, noReboot: true }, deviceDeps)).outcome).toBe('committed');
  });

  it('declining a newer update over an install waiting for its reboot leaves that install pending, so it commits after the reboot', async () => {
    const dev = await freshDevice();
    await applyUpdate({ ...dev.opts, mediaRoot: stick10 }, deviceDeps);
    const declined = applyUpdate({ ...dev.opts, mediaRoot: stick11, confirm: async () => false }, deviceDeps);
    await expect(declined).rejects.toMatchObject({ code: 'CANCELLED' });
    expect((await loadState(dev.stateDir)).slots.B).toMatchObject({ status: 'pending', version: '1.0.0' });
    expect(await simulateBoot(dev)).toBe('B');
    expect((await bootCheck({ ...dev.opts, noReboot: true }, deviceDeps)).outcome).toBe('committed');
  });

  async function tamperedStick(): Promise<string> {
    const bad = await kit.makeStick([{ image: 'v1', version: '1.0.0', counter: 100 }]);
    const blobs = path.join(bad, 'FERRY', 'oci', 'blobs', 'sha256');
    const sizes = await Promise.all((await fsp.readdir(blobs)).map(async (n) => ({ n, size: (await fsp.stat(path.join(blobs, n))).size })));
    const layer = sizes.sort((a, b) => b.size - a.size)[0]!.n;
    const fh = await fsp.open(path.join(blobs, layer), 'r+');
    await fh.write(Buffer.from('X'), 0, 1, 100);
    await fh.close();
    return bad;
  }

  it('single pass: a tampered layer leaves the target marked bad, the running slot primary, nothing activated', async () => {
    const dev = await freshDevice();
    const bad = await tamperedStick();
    const aBefore = (await loadState(dev.stateDir)).slots.A;
    await expect(applyUpdate({ ...dev.opts, mediaRoot: bad }, deviceDeps)).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' });
    expect(await bootFile(dev)).toMatchObject({ order: ['A', 'B'], slots: { A: { good: true }, B: { good: false, attemptsLeft: 0 } } });
    const state = await loadState(dev.stateDir);
    expect(state.slots.A).toEqual(aBefore);
    expect(state.slots.B).toMatchObject({ status: 'bad', lastError: { code: 'DIGEST_MISMATCH' } });
    expect(state.lastResult).toMatchObject({ action: 'apply', result: 'failure', code: 'DIGEST_MISMATCH' });
    expect(await simulateBoot(dev)).toBe('A');
  });

  it('with policy.verifyBeforeWrite a tampered layer leaves even the inactive slot as it was', async () => {
    const dev = await freshDevice();
    const bad = await tamperedStick();
    const before = await fsp.readFile(dev.bootFile, 'utf8');
    await expect(applyUpdate({ ...dev.opts, mediaRoot: bad, verifyBeforeWrite: true }, deviceDeps)).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' });
    expect(await fsp.readFile(dev.bootFile, 'utf8')).toBe(before);
    const state = await loadState(dev.stateDir);
    expect(state.slots.B.status).toBe('empty');
    expect(state.lastResult).toMatchObject({ action: 'apply', result: 'failure', code: 'DIGEST_MISMATCH' });
    await expect(fsp.readdir(path.join(dev.root, 'slots', 'b'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('cancels during the write: the running slot stays primary and the target stays bad', async () => {
    const dev = await freshDevice();
    const ac = new AbortController();
    const progress = (e: ProgressEvent) => {
      if (e.step === 'write' && e.bytesDone > 0) ac.abort();
    };
    await expect(applyUpdate({ ...dev.opts, mediaRoot: stick10, progress, signal: ac.signal }, deviceDeps)).rejects.toMatchObject({ code: 'CANCELLED' });
    const boot = await bootFile(dev);
    expect(boot).toMatchObject({ order: ['A', 'B'], slots: { A: { good: true }, B: { good: false, attemptsLeft: 0 } } });
    const state = await loadState(dev.stateDir);
    expect(state.slots.B).toMatchObject({ status: 'bad', lastError: { code: 'CANCELLED' } });
    expect(state.lastResult?.result).toBe('cancelled');
    expect(await simulateBoot(dev)).toBe('A');
    // and a later apply succeeds
    await applyUpdate({ ...dev.opts, mediaRoot: stick10 }, deviceDeps);
    expect((await loadState(dev.stateDir)).slots.B.status).toBe('pending');
  });

  it('refuses a rollback to a slot that is not good, and rolls back to a committed one', async () => {
    const dev = await freshDevice();
    await expect(rollback(dev.opts, deviceDeps)).rejects.toMatchObject({ code: 'ROLLBACK_REFUSED' });
    await applyUpdate({ ...dev.opts, mediaRoot: stick10 }, deviceDeps);
    await simulateBoot(dev);
    await bootCheck({ ...dev.opts, noReboot: true }, deviceDeps); // B committed; A adopted? no: A was never installed
    await expect(rollback(dev.opts, deviceDeps)).rejects.toMatchObject({ code: 'ROLLBACK_REFUSED' });
    await applyUpdate({ ...dev.opts, mediaRoot: stick11 }, deviceDeps);
    await simulateBoot(dev);
    await bootCheck({ ...dev.opts, noReboot: true }, deviceDeps);
    const r = await rollback(dev.opts, deviceDeps);
    expect(r.slot).toBe('B');
    expect(await simulateBoot(dev)).toBe('B');
    expect((await loadState(dev.stateDir)).counterFloor).toEqual({ kiosk: 110 });
  });

  it('caches a newer CRL from a stick and refuses a revoked signer later, even on a stick without the CRL', async () => {
    const dev = await freshDevice();
    const signer2 = path.join(kit.dir, 'signer2');
    await issueCertificate({ issuerDir: kit.rootDir, profile: 'signer', name: 'ferry test signer 2', days: 30, out: signer2 });
    const withCrl = await kit.makeStick([{ image: 'v1', version: '1.0.0', counter: 100 }]);
    await revokeCertificate({ rootDir: kit.rootDir, certFile: path.join(signer2, 'cert.pem'), mediaRoot: withCrl });
    await applyUpdate({ ...dev.opts, mediaRoot: withCrl }, deviceDeps);
    expect((await loadState(dev.stateDir)).crlPem).toMatch(/^-----BEGIN X509 CRL-----/);
    await simulateBoot(dev);
    await bootCheck({ ...dev.opts, noReboot: true }, deviceDeps);
    const revoked = await kit.makeStick([{ image: 'v2', version: '1.1.0', counter: 110, signerDir: signer2 }]);
    await expect(applyUpdate({ ...dev.opts, mediaRoot: revoked }, deviceDeps)).rejects.toMatchObject({ code: 'CERT_REVOKED' });
  });
});
