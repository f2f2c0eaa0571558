/**
 * ferry's grub backend and the real RAUC agree on the grubenv: RAUC's service (on a
 * private D-Bus, booted slot overridden) reads what ferry wrote, and ferry reads what
 * `rauc status mark-*` wrote. This is the "existing boot scripts keep working" promise.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBootloader } from '../../../src/device/bootloaders/registry.js';
import type { Bootloader } from '../../../src/device/types.js';
import { makeDevice, type TestDevice } from '../../helpers/device.js';

let dev: TestDevice;
let bus: { address: string; pid: number };
let service: ChildProcess;
let bl: Bootloader;
let env: NodeJS.ProcessEnv;

async function waitForService(): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      execFileSync('rauc', ['status', '--output-format=json'], { env, stdio: 'pipe' });
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error('rauc service did not come up');
}

beforeAll(async () => {
  dev = await makeDevice({ kind: 'grub' });
  for (const s of ['a', 'b']) await fsp.writeFile(path.join(dev.root, `${s}.img`), Buffer.alloc(4096));
  const conf = path.join(dev.root, 'system.conf');
  await fsp.writeFile(
    conf,
    [
      '[system]', 'compatible=acme,kiosk-v2', 'bootloader=grub', `grubenv=${dev.bootFile}`, `data-directory=${path.join(dev.root, 'rauc-data')}`, '',
      '[slot.rootfs.0]', `device=${path.join(dev.root, 'a.img')}`, 'type=raw', 'bootname=A', '',
      '[slot.rootfs.1]', `device=${path.join(dev.root, 'b.img')}`, 'type=raw', 'bootname=B', '',
    ].join('\n'),
  );
  const out = execFileSync('dbus-daemon', ['--session', '--fork', '--print-address=1', '--print-pid=1'], { encoding: 'utf8' }).trim().split('\n');
  bus = { address: out[0]!, pid: Number(out[1]) };
  env = { ...process.env, DBUS_SYSTEM_BUS_ADDRESS: bus.address };
  service = spawn('rauc', [`--conf=${conf}`, 'service', '--override-boot-slot=A'], { env, stdio: 'ignore' });
  await waitForService();
  const cfg = JSON.parse(await fsp.readFile(dev.configFile, 'utf8'));
  bl = createBootloader(cfg.bootloader, { stateDir: dev.stateDir });
});

afterAll(async () => {
  if (service?.pid) {
    service.kill('SIGTERM');
    await new Promise((r) => service.once('exit', r));
  }
  if (bus?.pid) process.kill(bus.pid, 'SIGTERM');
  await dev?.cleanup();
});

function raucStatus(): { primary: string; A: string; B: string } {
  const s = JSON.parse(execFileSync('rauc', ['status', '--detailed', '--output-format=json'], { env, encoding: 'utf8' })) as {
    boot_primary: string;
    slots: Array<Record<string, { bootname: string; boot_status: string }>>;
  };
  const byBoot = Object.fromEntries(s.slots.map((o) => Object.values(o)[0]!).map((x) => [x.bootname, x.boot_status]));
  return { primary: s.boot_primary, A: byBoot.A!, B: byBoot.B! };
}

describe('grubenv shared with RAUC', () => {
  it('RAUC sees the slot ferry made primary, and the slot ferry marked bad', async () => {
    await bl.setPrimary('B', 3);
    expect(raucStatus()).toEqual({ primary: 'rootfs.1', A: 'good', B: 'good' });
    await bl.markBad('B');
    expect(raucStatus()).toEqual({ primary: 'rootfs.0', A: 'good', B: 'bad' });
  });

  it('ferry reads what rauc status mark-active / mark-bad wrote', async () => {
    execFileSync('rauc', ['status', 'mark-active', 'other'], { env, stdio: 'pipe' });
    let s = await bl.getState();
    expect(s.order).toEqual(['B', 'A']);
    expect(s.slots.B).toEqual({ good: true, attemptsLeft: 3 });
    execFileSync('rauc', ['status', 'mark-bad', 'other'], { env, stdio: 'pipe' });
    s = await bl.getState();
    expect(s.slots.B).toEqual({ good: false, attemptsLeft: 0 });
  });
});
