/**
 * Crash safety: `ferry device apply` (the built CLI) is killed with SIGKILL at each
 * point of the pipeline (FERRY_FAULT_AT test hook). Afterwards the booted slot is
 * untouched and still boots, the target is bad (or pending, and primary, only once
 * it was fully written and recorded), state.json is valid, and a re-run succeeds
 * despite the dead process's lock file.
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAULT_POINTS } from '../../src/device/fault.js';
import { loadState } from '../../src/device/state.js';
import { makeDevice, simulateBoot, type TestDevice } from '../helpers/device.js';
import { makeStickKit, type StickKit } from '../helpers/device-stick.js';
import { ensureBuilt, ferry } from './device-run.js';

let kit: StickKit;
let stick: string;
const devices: TestDevice[] = [];

beforeAll(async () => {
  ensureBuilt();
  kit = await makeStickKit();
  stick = await kit.makeStick([{ image: 'v2', version: '1.1.0', counter: 110 }]);
});
afterAll(async () => {
  for (const d of devices) await d.cleanup();
  await kit?.cleanup();
});

async function slotAFingerprint(dev: TestDevice): Promise<string> {
  return (await fsp.readdir(path.join(dev.root, 'slots', 'a'), { recursive: true })).sort().join('\n');
}

describe('ferry device apply killed with SIGKILL', () => {
  it.each(FAULT_POINTS)('at %s leaves a bootable device and a re-run completes', async (point) => {
    const dev = await makeDevice({ kind: 'grub', extra: { deviceId: `crash-test-${point}` } });
    devices.push(dev);
    await kit.installTrust(dev.trustDir);
    // slot A holds the running system: it must never be touched
    await fsp.mkdir(path.join(dev.root, 'slots', 'a', 'etc'), { recursive: true });
    await fsp.writeFile(path.join(dev.root, 'slots', 'a', 'etc', 'os-release'), 'VERSION=factory\n');
    const before = await slotAFingerprint(dev);

    const r = ferry(dev, ['device', 'apply', '--media', stick, '--yes'], { FERRY_FAULT_AT: point });
    expect(r.signal, r.stderr).toBe('SIGKILL');
    await expect(fsp.stat(path.join(dev.stateDir, 'lock'))).resolves.toBeDefined(); // left behind by the dead process

    const state = await loadState(dev.stateDir); // valid JSON, validated
    expect(await slotAFingerprint(dev)).toBe(before);
    expect(await fsp.readFile(path.join(dev.root, 'slots', 'a', 'etc', 'os-release'), 'utf8')).toBe('VERSION=factory\n');
    const switched = point === 'after-bootloader';
    // Recorded as pending only after the whole image was written; primary only after the switch.
    expect(state.slots.B.status).toBe(switched || point === 'before-bootloader' ? 'pending' : 'bad');
    if (switched) expect(state.slots.B).toMatchObject({ version: '1.1.0', counter: 110 });

    // Power comes back: the bootloader boots A unless the switch had completed.
    const dev2 = { ...dev };
    expect(await simulateBoot(dev2)).toBe(switched ? 'B' : 'A');
    await dev.setBooted('A');

    const again = ferry(dev, ['device', 'apply', '--media', stick, '--yes']);
    if (switched) {
      expect(again.status).toBe(4); // already installed and waiting for its reboot
      expect(again.stderr).toMatch(/ALREADY_INSTALLED/);
    } else {
      expect(again.status).toBe(0);
    }
    expect((await loadState(dev.stateDir)).slots.B.status).toBe('pending');
    // the install's success receipt reaches the stick, even when the cut came after the switch
    const receipts = path.join(stick, 'FERRY', 'receipts', `crash-test-${point}`);
    const applied = [];
    for (const f of await fsp.readdir(receipts)) {
      const r = JSON.parse(await fsp.readFile(path.join(receipts, f), 'utf8')) as { action: string; result: string; version?: string };
      if (r.action === 'apply' && r.result === 'success') applied.push(r.version);
    }
    expect(applied).toEqual(['1.1.0']);
    expect(await simulateBoot(dev)).toBe('B');
    expect(ferry(dev, ['device', 'boot-check']).status).toBe(0);
    expect((await loadState(dev.stateDir)).slots.B.status).toBe('good');
  });
});
