/**
 * `ferry device init` through the built CLI on a fresh grub device: provisions, says so,
 * a second run changes nothing, no terminal without --yes is CONFIRMATION_REQUIRED, a
 * different version without --force is ALREADY_PROVISIONED (exit 2), and status works after.
 */
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initRoot } from '../../src/trust/pki.js';
import { grubList, makeDevice, type TestDevice } from '../helpers/device.js';
import { ensureBuilt, ferry } from './device-run.js';

let dev: TestDevice;
let pki: string;
let root: string;

beforeAll(async () => {
  ensureBuilt();
  pki = await fsp.mkdtemp(path.join(os.tmpdir(), 'ferry-init-e2e-'));
  await initRoot({ out: pki, name: 'init e2e root' });
  root = path.join(pki, 'cert.pem');
  dev = await makeDevice({ kind: 'grub', extra: { deviceId: 'kiosk-init-e2e' } });
  await fsp.rm(dev.bootFile); // as the image builder leaves it: no grubenv yet
});
afterAll(async () => {
  await dev?.cleanup();
  await fsp.rm(pki, { recursive: true, force: true });
});

describe('ferry device init (built CLI)', () => {
  it('needs --yes without a terminal, and then changes nothing', async () => {
    const r = ferry(dev, ['device', 'init', '--trust-root', root, '--version', '1.0.0']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('error[CONFIRMATION_REQUIRED]');
    await expect(fsp.stat(dev.bootFile)).rejects.toThrow();
  });

  it('provisions the device, lists what it did, and status reads it', () => {
    const r = ferry(dev, ['device', 'init', '--trust-root', root, '--version', '1.0.0', '--target', 'kiosk', '--yes']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^provisioned device kiosk-init-e2e \(slot A good and committed, version 1\.0\.0, target kiosk\):\n/);
    expect(r.stdout).toContain(`install trust root ${path.join(dev.trustDir, 'roots', 'cert.pem')}`);
    expect(r.stdout).toContain(`bootloader grub: create ${dev.bootFile}`);
    expect(grubList(dev)).toMatchObject({ ORDER: 'A B', A_OK: '1', B_OK: '0', FERRY_MAX_TRY: '3' });
    const s = ferry(dev, ['device', 'status', '--json']);
    expect(s.status).toBe(0);
    const status = JSON.parse(s.stdout) as { booted: string; slots: { A: { status: string; version: string } } };
    expect(status.booted).toBe('A');
    expect(status.slots.A).toMatchObject({ status: 'good', version: '1.0.0' });
  });

  it('says nothing changed on a second run with the same inputs', () => {
    const r = ferry(dev, ['device', 'init', '--trust-root', root, '--version', '1.0.0', '--target', 'kiosk', '--yes']);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('device kiosk-init-e2e is already provisioned (slot A good and committed, version 1.0.0, target kiosk); nothing changed\n');
  });

  it('refuses other inputs without --force (exit 2) and reports what --force replaced', () => {
    const r = ferry(dev, ['device', 'init', '--version', '2.0.0', '--yes']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^ferry: error\[ALREADY_PROVISIONED\]: the device is already provisioned differently: .*slot A good 1\.0\.0.*pass --force/);
    const f = ferry(dev, ['device', 'init', '--version', '2.0.0', '--yes', '--force', '--json']);
    expect(f.status).toBe(0);
    const out = JSON.parse(f.stdout) as { ok: boolean; changed: boolean; replaces: string[] };
    expect(out.ok && out.changed).toBe(true);
    expect(out.replaces).toEqual([expect.stringContaining('device state: slot A good 1.0.0, slot B empty, target kiosk')]);
  });
});
