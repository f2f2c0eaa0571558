/**
 * The technician's flows through the real, tsc-built ferry-tui in an 80x24 tmux window,
 * against real signed media (exportImage + publishUpdate) and a throwaway device with
 * dir slots and a real grubenv (checked with grub-editenv).
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { applyUpdate } from '../../src/device/apply.js';
import { bootCheck } from '../../src/device/boot-check.js';
import { deviceDeps } from '../../src/device/deps.js';
import { grubList, simulateBoot, type TestDevice } from '../helpers/device.js';
import { makeSignedStick, makeTrustingDevice, type SignedStick, tamperLargestLayer, tuiArgs } from './tui-fixtures.js';
import { rows, TuiSession } from './tui-harness.js';

let world: SignedStick;
let session: TuiSession | undefined;
const devices: TestDevice[] = [];

/** A device running kiosk 1.0.0, committed, from slot B (installed and boot-checked by the engine). */
async function deviceOn100(): Promise<TestDevice> {
  const dev = await makeTrustingDevice(world);
  devices.push(dev);
  await applyUpdate({ ...dev.opts, mediaRoot: world.stick, updateId: 'kiosk-1.0.0' }, deviceDeps);
  expect(await simulateBoot(dev)).toBe('B');
  const bc = await bootCheck({ ...dev.opts, noReboot: true }, deviceDeps);
  expect(bc.outcome).toBe('committed');
  return dev;
}

async function snapshot(dev: TestDevice): Promise<{ state: string; grub: Record<string, string>; slotB: string[] }> {
  return {
    state: await fsp.readFile(path.join(dev.stateDir, 'state.json'), 'utf8'),
    grub: grubList(dev),
    slotB: (await fsp.readdir(path.join(dev.root, 'slots', 'b'), { recursive: true })).map(String).sort(),
  };
}

function start(dev: TestDevice, stick = world.stick): TuiSession {
  const { args, env } = tuiArgs(dev, stick);
  session = TuiSession.start(args, env);
  return session;
}

beforeAll(async () => {
  world = await makeSignedStick();
});
afterEach(() => {
  session?.kill();
  session = undefined;
});
afterAll(async () => {
  for (const d of devices) await d.cleanup();
  await fsp.rm(world.dir, { recursive: true, force: true });
});

describe('ferry-tui flows (80x24, real engine)', () => {
  it('installs 1.1.0 from plug-in to Done: list, verify every byte, confirm, apply, receipt on the stick', async () => {
    const dev = await deviceOn100();
    const s = start(dev);
    let screen = await s.waitFor('Updates on the stick');
    screen = await s.waitFor('kiosk-1.1.0');
    expect(rows(screen).find((r) => r.includes('kiosk-1.1.0'))).toMatch(/✓ ready/);
    s.keys('Enter');
    screen = await s.waitFor('verified. Press Enter');
    expect(screen).toMatch(/Signature\s+✓ valid, signed by ferry signer/);
    expect(screen).toContain('100%');
    s.keys('Enter');
    screen = await s.waitFor('Install 1.1.0 into slot A?');
    expect(screen).toMatch(/Current\s+1\.0\.0/);
    expect(screen).toContain('Fixes the printer queue after a paper jam.');
    s.keys('Tab', 'Enter');
    screen = await s.waitFor('Installed 1.1.0 into slot A.');
    expect(screen).toMatch(/Receipt\s+✓ written to /);
    const grub = grubList(dev);
    expect(grub.ORDER).toBe('A B');
    const state = JSON.parse(await fsp.readFile(path.join(dev.stateDir, 'state.json'), 'utf8'));
    expect(state.slots.A).toMatchObject({ status: 'pending', version: '1.1.0' });
    expect(state.slots.B).toMatchObject({ status: 'good', version: '1.0.0' });
    const receipts = await fsp.readdir(path.join(world.stick, 'FERRY', 'receipts', 'kiosk-0042'));
    expect(receipts.some((f) => f.endsWith('.json') && f.includes('apply'))).toBe(true);
    expect(await fsp.readFile(path.join(dev.root, 'slots', 'a', 'usr', 'lib', 'os-release'), 'utf8')).toContain('VERSION_ID=1.1.0');
    s.keys('Enter'); // later
    screen = await s.waitFor(/ferry \| Device[\s\S]*A\s+pending\s+1\.1\.0/);
  });
});
