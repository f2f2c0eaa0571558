/**
 * The same A/B story on a U-Boot device with block slots on real loop devices:
 * the environment is a real libubootenv file read and written with fw_printenv /
 * fw_setenv, each slot is mkfs'd and filled by the block slot backend.
 */
import { execFileSync } from 'node:child_process';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fwPrintenv, makeDevice, simulateBoot, type TestDevice } from '../helpers/device.js';
import { makeStickKit, type StickKit } from '../helpers/device-stick.js';
import { ensureBuilt, ferry } from './device-run.js';

let kit: StickKit;
let dev: TestDevice;
const loops: string[] = [];

beforeAll(async () => {
  ensureBuilt();
  kit = await makeStickKit();
  dev = await makeDevice({
    kind: 'uboot',
    extra: { deviceId: 'kiosk-block-1' },
    slots: () => ({ A: { type: 'block', device: '/dev/null' }, B: { type: 'block', device: '/dev/null' } }),
  });
  for (const s of ['a', 'b']) {
    const img = path.join(dev.root, `slot-${s}.img`);
    await fsp.writeFile(img, '');
    await fsp.truncate(img, 64 * 1024 * 1024);
    loops.push(execFileSync('losetup', ['-f', '--show', img], { encoding: 'utf8' }).trim());
  }
  await kit.installTrust(dev.trustDir);
  const cfg = JSON.parse(await fsp.readFile(dev.configFile, 'utf8'));
  cfg.slots = { A: { type: 'block', device: loops[0], fsType: 'ext4' }, B: { type: 'block', device: loops[1], fsType: 'ext4' } };
  cfg.healthCheck = { command: `test ! -e ${path.join(dev.root, 'unhealthy')}`, timeoutSec: 10 };
  await fsp.writeFile(dev.configFile, JSON.stringify(cfg));
});
afterAll(async () => {
  for (const l of loops) execFileSync('losetup', ['-d', l]);
  await dev?.cleanup();
  await kit?.cleanup();
});

async function readFromSlot(loop: string, file: string): Promise<string> {
  const mnt = await fsp.mkdtemp(path.join(dev.root, 'mnt-'));
  execFileSync('mount', ['-o', 'ro', loop, mnt]);
  try {
    return await fsp.readFile(path.join(mnt, file), 'utf8');
  } finally {
    execFileSync('umount', [mnt]);
    await fsp.rmdir(mnt);
  }
}

describe('ferry device (uboot, block slots on loop devices)', () => {
  it('installs 1.0.0 into slot B, boots it and commits it', async () => {
    const stick = await kit.makeStick([{ image: 'v1', version: '1.0.0', counter: 100 }]);
    const r = ferry(dev, ['device', 'apply', '--media', stick, '--yes']);
    expect(r.status, r.stderr).toBe(0);
    expect(fwPrintenv(dev)).toMatchObject({ BOOT_ORDER: 'B A', BOOT_B_LEFT: '3', BOOT_A_LEFT: '3' });
    expect(await readFromSlot(loops[1]!, 'etc/os-release')).toBe(await fsp.readFile(path.join(kit.samples.rootfsV1, 'etc/os-release'), 'utf8'));
    expect(await simulateBoot(dev)).toBe('B');
    expect(fwPrintenv(dev).BOOT_B_LEFT).toBe('2');
    expect(ferry(dev, ['device', 'boot-check']).status).toBe(0);
    expect(fwPrintenv(dev)).toMatchObject({ BOOT_ORDER: 'B A', BOOT_B_LEFT: '3' });
  });

  it('installs 1.1.0 into slot A, fails the health check, and U-Boot brings 1.0.0 back', async () => {
    const stick = await kit.makeStick([{ image: 'v2', version: '1.1.0', counter: 110 }]);
    expect(ferry(dev, ['device', 'apply', '--media', stick, '--yes']).status).toBe(0);
    expect(await readFromSlot(loops[0]!, 'etc/os-release')).toBe(await fsp.readFile(path.join(kit.samples.rootfsV2, 'etc/os-release'), 'utf8'));
    expect(await simulateBoot(dev)).toBe('A');
    await fsp.writeFile(path.join(dev.root, 'unhealthy'), '');
    const bc = ferry(dev, ['device', 'boot-check', '--no-reboot', '--json']);
    expect(bc.status).toBe(1);
    expect(JSON.parse(bc.stdout)).toMatchObject({ ok: false, outcome: 'rolled-back', error: { code: 'HEALTH_CHECK_FAILED' } });
    expect(fwPrintenv(dev)).toMatchObject({ BOOT_ORDER: 'B A', BOOT_A_LEFT: '0', BOOT_B_LEFT: '3' });
    expect(await simulateBoot(dev)).toBe('B');
    await fsp.rm(path.join(dev.root, 'unhealthy'));
    expect(ferry(dev, ['device', 'boot-check']).status).toBe(0);
    const st = JSON.parse(ferry(dev, ['device', 'status', '--json']).stdout);
    expect(st).toMatchObject({ booted: 'B', slots: { A: { status: 'bad' }, B: { status: 'good', version: '1.0.0' } }, counterFloor: { kiosk: 100 } });
    // the running slot's file system was never touched: still 1.0.0
    expect(await readFromSlot(loops[1]!, 'etc/os-release')).toBe(await fsp.readFile(path.join(kit.samples.rootfsV1, 'etc/os-release'), 'utf8'));
  });
});
