/**
 * `ferry device` end to end through the built CLI, on a grub device with dir slots:
 * the real grubenv (checked with grub-editenv), real signed sticks, reboots simulated
 * by running the boot script's logic and then boot-check, as the service would.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { grubList, makeDevice, simulateBoot, type TestDevice } from '../helpers/device.js';
import { makeStickKit, type StickKit } from '../helpers/device-stick.js';
import { ensureBuilt, ferry, MAIN, NODE } from './device-run.js';

let kit: StickKit;
let dev: TestDevice;
let stick10: string;
let stick11: string;

beforeAll(async () => {
  ensureBuilt();
  kit = await makeStickKit();
  stick10 = await kit.makeStick([{ image: 'v1', version: '1.0.0', counter: 100 }]);
  stick11 = await kit.makeStick([{ image: 'v2', version: '1.1.0', counter: 110 }]);
  dev = await makeDevice({ kind: 'grub', extra: { deviceId: 'kiosk-e2e-1' } });
  await kit.installTrust(dev.trustDir);
  const cfg = JSON.parse(await fsp.readFile(dev.configFile, 'utf8'));
  cfg.healthCheck = { command: `test ! -e ${path.join(dev.root, 'unhealthy')}`, timeoutSec: 10 };
  cfg.rebootCommand = `touch ${path.join(dev.root, 'rebooted')}`;
  await fsp.writeFile(dev.configFile, JSON.stringify(cfg));
});
afterAll(async () => {
  await dev?.cleanup();
  await kit?.cleanup();
});

describe('ferry device (grub, dir slots)', () => {
  it('refuses to install without --yes when there is no terminal', () => {
    const r = ferry(dev, ['device', 'apply', '--media', stick10]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/error\[CONFIRMATION_REQUIRED\].*--yes/);
    expect(grubList(dev).ORDER).toBe('A B');
  });

  it('asks on a terminal, shows the plan, and changes nothing when the answer is no', () => {
    const cmd = [NODE, MAIN, 'device', 'apply', '--media', stick10, '--config', dev.configFile].map((a) => `'${a}'`).join(' ');
    const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { input: 'n\n', encoding: 'utf8', env: { ...process.env, FERRY_CMDLINE_FILE: dev.cmdlineFile }, timeout: 60_000 });
    expect(r.stdout).toMatch(/install kiosk-1.0.0 \(version 1.0.0, counter 100\) into slot B/);
    expect(r.stdout).toMatch(/slot A stays as the fallback/);
    expect(r.stdout).toMatch(/error\[CANCELLED\]: cancelled before anything was written/);
    expect(r.status).toBe(1);
    expect(grubList(dev).ORDER).toBe('A B');
  });

  it('installs 1.0.0, then boot-check commits it', async () => {
    const r = ferry(dev, ['device', 'apply', '--media', stick10, '--yes', '--json']);
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(out).toMatchObject({ ok: true, plan: { target: 'B', update: { id: 'kiosk-1.0.0' } } });
    const steps = new Set(r.stderr.trim().split('\n').map((l) => (JSON.parse(l) as { step: string }).step));
    expect(steps).toEqual(new Set(['verify', 'write', 'sync', 'bootloader', 'receipt']));
    expect(grubList(dev)).toMatchObject({ ORDER: 'B A', B_OK: '1', B_TRY: '0', A_OK: '1', FERRY_MAX_TRY: '3' });
    expect(await simulateBoot(dev)).toBe('B');
    const bc = ferry(dev, ['device', 'boot-check']);
    expect(bc.status).toBe(0);
    expect(bc.stdout).toMatch(/^committed: slot B \(1.0.0\)/);
    expect(grubList(dev)).toMatchObject({ ORDER: 'B A', B_OK: '1', B_TRY: '0' });
  });

  it('installs 1.1.0, fails its health check and rolls back to 1.0.0 by itself', async () => {
    expect(ferry(dev, ['device', 'apply', '--media', stick11, '--yes']).status).toBe(0);
    expect(await simulateBoot(dev)).toBe('A');
    await fsp.writeFile(path.join(dev.root, 'unhealthy'), '');
    const bc = ferry(dev, ['device', 'boot-check']);
    expect(bc.status).toBe(1);
    expect(bc.stderr).toMatch(/error\[HEALTH_CHECK_FAILED\]: slot A \(1.1.0\): health check failed.*rolling back to slot B \(1.0.0\)/);
    await expect(fsp.stat(path.join(dev.root, 'rebooted'))).resolves.toBeDefined();
    expect(grubList(dev)).toMatchObject({ ORDER: 'B A', A_OK: '0' });
    expect(await simulateBoot(dev)).toBe('B');
    await fsp.rm(path.join(dev.root, 'unhealthy'));
    expect(ferry(dev, ['device', 'boot-check']).status).toBe(0);
    const st = JSON.parse(ferry(dev, ['device', 'status', '--json']).stdout);
    expect(st).toMatchObject({ booted: 'B', slots: { A: { status: 'bad', version: '1.1.0' }, B: { status: 'good', version: '1.0.0' } }, counterFloor: { kiosk: 100 } });
    // The commit receipt went out with the next apply's stick; the rollback's waits (boot-check has no stick).
    expect(st.pendingReceipts).toBe(1);
    expect(st.lastResult).toMatchObject({ action: 'boot-check', result: 'success' });
  });

  it('exits 5 when the media has no FERRY folder', async () => {
    const empty = path.join(dev.root, 'empty-stick');
    await fsp.mkdir(empty, { recursive: true });
    const r = ferry(dev, ['device', 'apply', '--media', empty, '--yes']);
    expect(r.status).toBe(5);
    expect(r.stderr).toMatch(/error\[MEDIA_NOT_FOUND\]/);
  });

  it('refuses a downgrade with exit 4 and explains it', async () => {
    const old = await kit.makeStick([{ image: 'v1', version: '0.9.0', counter: 90 }]);
    const r = ferry(dev, ['device', 'apply', '--media', old, '--yes']);
    expect(r.status).toBe(4);
    expect(r.stderr).toMatch(/skipped kiosk-0.9.0: DOWNGRADE_REFUSED/);
  });

  it('changes nothing when the stick was tampered with (exit 3)', async () => {
    const bad = await kit.makeStick([{ image: 'v2', version: '1.2.0', counter: 120 }]);
    const f = path.join(bad, 'FERRY', 'updates', 'kiosk-1.2.0.json');
    const text = await fsp.readFile(f, 'utf8');
    const forged = text.replace(/("counter"\s*:\s*)120/, '$1999');
    expect(forged).not.toBe(text);
    await fsp.writeFile(f, forged);
    const before = await fsp.readFile(dev.bootFile);
    const stateBefore = await fsp.readFile(path.join(dev.stateDir, 'state.json'), 'utf8');
    const r = ferry(dev, ['device', 'apply', '--media', bad, '--yes', '--json']);
    expect(r.status).toBe(3);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, error: { code: 'SIGNATURE_INVALID' } });
    expect(await fsp.readFile(dev.bootFile)).toEqual(before);
    const stateAfter = JSON.parse(await fsp.readFile(path.join(dev.stateDir, 'state.json'), 'utf8'));
    expect(stateAfter.slots).toEqual(JSON.parse(stateBefore).slots);
  });

  it('keeps receipts on the device while the stick is read-only and writes them to the next writable one', async () => {
    const ro = path.join(dev.root, 'ro-stick');
    await fsp.mkdir(ro);
    execFileSync('mount', ['--bind', stick11, ro]);
    try {
      execFileSync('mount', ['-o', 'remount,ro,bind', ro]);
      await expect(fsp.writeFile(path.join(ro, 'x'), '')).rejects.toMatchObject({ code: 'EROFS' });
      const r = ferry(dev, ['device', 'apply', '--media', ro, '--yes', '--update', 'kiosk-1.1.0']);
      expect(r.status).toBe(0); // reinstalling the failed 1.1.0 is allowed: its counter is above the floor
      expect(r.stderr).toMatch(/receipt\(s\) kept on the device/);
    } finally {
      execFileSync('umount', [ro]);
    }
    const sj = ferry(dev, ['device', 'status', '--json']);
    const waiting = JSON.parse(sj.stdout).pendingReceipts as number;
    expect(waiting).toBeGreaterThanOrEqual(1);
    const st = ferry(dev, ['device', 'status', '--media', stick10]);
    expect(st.status).toBe(0);
    expect(st.stdout).toContain(`receipts waiting for a writable stick: 0 (${waiting} just written)`);
    const files = await fsp.readdir(path.join(stick10, 'FERRY', 'receipts', 'kiosk-e2e-1'));
    const apply = JSON.parse(await fsp.readFile(path.join(stick10, 'FERRY', 'receipts', 'kiosk-e2e-1', files.filter((n) => n.endsWith('-apply.json')).sort().pop()!), 'utf8'));
    expect(apply).toMatchObject({ deviceId: 'kiosk-e2e-1', compatible: 'acme,kiosk-v2', result: 'success', updateId: 'kiosk-1.1.0', targetSlot: 'A', before: { A: { status: 'bad' } }, after: { A: { status: 'pending' } } });
  });

  it('runs status for humans and rollback/mark-bad with their refusals', () => {
    const st = ferry(dev, ['device', 'status']);
    expect(st.stdout).toMatch(/booted slot B \(from cmdline\)/);
    expect(st.stdout).toMatch(/slot A  pending/);
    const rb = ferry(dev, ['device', 'rollback']);
    expect(rb.status).toBe(1);
    expect(rb.stderr).toMatch(/ROLLBACK_REFUSED.*slot A holds 1\.1\.0, installed and not yet tried/);
    expect(ferry(dev, ['device', 'mark-bad']).status).toBe(0);
    expect(grubList(dev)).toMatchObject({ ORDER: 'B A', A_OK: '0' });
  });
});

describe('ferry device without a usable config', () => {
  it('exits 2 and lists every problem', async () => {
    const f = path.join(dev.root, 'bad.json');
    await fsp.writeFile(f, JSON.stringify({ compatible: 'x', deviceId: 'd', slots: { A: { type: 'floppy' } }, bootloader: { type: 'lilo' } }));
    const r = spawnSync(NODE, [MAIN, 'device', 'status', '--config', f], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/CONFIG_INVALID.*floppy.*known: dir, block, bootc.*lilo.*known: grub, uboot, file, custom/);
  });
});
