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
import { initRoot } from '../../src/trust/pki.js';
import { grubList, simulateBoot, type TestDevice } from '../helpers/device.js';
import { freezableSlotA, makeSignedStick, makeTrustingDevice, type SignedStick, tamperLargestLayer, tuiArgs } from './tui-fixtures.js';
import { rows, saveScreen, TuiSession } from './tui-harness.js';

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

async function tree(dir: string): Promise<string[]> {
  return (await fsp.readdir(dir, { recursive: true }).catch(() => [] as string[])).map(String).sort();
}

/** What "the device is as before" means: slot records, floor, trusted time, grubenv, both slot trees. */
async function snapshot(dev: TestDevice) {
  const state = JSON.parse(await fsp.readFile(path.join(dev.stateDir, 'state.json'), 'utf8'));
  return {
    slots: state.slots,
    floor: state.counterFloor,
    trustedTime: state.trustedTime,
    lastResult: state.lastResult,
    grub: grubList(dev),
    trees: { a: await tree(path.join(dev.root, 'slots', 'a')), b: await tree(path.join(dev.root, 'slots', 'b')) },
  };
}

/**
 * Start installing 1.1.0 with slot A's file system frozen: ferry-tui verifies every byte, the
 * engine marks the target bad, reports the write stage and then waits in its first write to
 * the slot, at an exact point of the apply, until the test thaws it.
 */
async function installUntilWriteBlocks() {
  const dev = await deviceOn100();
  const slot = await freezableSlotA(dev);
  const before = await snapshot(dev);
  const s = start(dev);
  try {
    await s.waitFor('kiosk-1.1.0');
    s.keys('Enter');
    await s.waitFor('verified. Press Enter');
    s.keys('Enter');
    await s.waitFor('Install 1.1.0 into slot A?');
    slot.freeze();
    s.keys('y');
    const screen = await s.waitFor(/> write\s+running/);
    return { dev, slot, before, s, screen };
  } catch (e) {
    await slot.cleanup();
    throw e;
  }
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
    await saveScreen('2-media', screen);
    expect(rows(screen).find((r) => r.includes('kiosk-1.1.0'))).toMatch(/✓ ready/);
    s.keys('Enter');
    screen = await s.waitFor('verified. Press Enter');
    expect(screen).toMatch(/Signature\s+✓ valid, signed by ferry signer/);
    expect(screen).toContain('100%');
    await saveScreen('3-verify', screen);
    s.keys('Enter');
    screen = await s.waitFor('Install 1.1.0 into slot A?');
    expect(screen).toMatch(/Current\s+1\.0\.0/);
    expect(screen).toContain('Fixes the printer queue after a paper jam.');
    s.keys('Tab');
    await saveScreen('4-confirm', await s.waitFor('>[ Install ]<'));
    s.keys('Enter');
    screen = await s.waitFor('Installed 1.1.0 into slot A.');
    expect(screen).toMatch(/Receipt\s+✓ written to /);
    await saveScreen('6-done', screen);
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
    await saveScreen('1-device', screen);
    s.keys('l');
    await saveScreen('8-log', await s.waitFor('ferry | Log'));
  });

  it('shows expired and other-device updates as not applicable, with the reason, and will not start them', async () => {
    const dev = await deviceOn100();
    const s = start(dev);
    let screen = await s.waitFor('tablet-3.0.0');
    expect(rows(screen).find((r) => r.includes('tablet-3.0.0'))).toMatch(/✗ incompatible$/);
    expect(rows(screen).find((r) => r.includes('kiosk-1.0.0'))).toMatch(/✗ already installed$/);
    expect(rows(screen).find((r) => r.includes('._kiosk'))).toBeUndefined();
    expect(rows(screen).find((r) => r.includes('kiosk-1.2.0'))).toMatch(/✗ expired$/);
    s.keys('Down');
    screen = await s.waitFor('> kiosk-1.2.0');
    expect(screen).toContain('Next: ask headquarters for a freshly signed stick');
    // The reason from the catalogue (the engine's reason as data), its instant to the minute.
    expect(screen.replace(/\s+/g, ' ')).toMatch(/update kiosk-1\.2\.0 expired on \d{4}-\d\d-\d\d \d\d:\d\dZ/);
    await saveScreen('2-media-expired', screen);
    s.keys('Down');
    screen = await s.waitFor('[INCOMPATIBLE_DEVICE]');
    expect(screen).toContain('this update is for another kind of device');
    expect(screen.replace(/\s+/g, ' ')).toContain('built for acme,tablet-v1, this device is acme,kiosk-v2');
    expect(screen).toContain('Next: use a stick made for this device');
    await saveScreen('2-media-incompatible', screen);
    s.keys('Enter');
    await new Promise((r) => setTimeout(r, 300));
    expect(s.capture()).toContain('Updates on the stick'); // still on the list: nothing started
    s.keys('Escape'); // Esc backs out like q
    await s.waitFor('ferry | Device');
  });

  it('shows a tampered stick as damaged during verify and refuses to go on; the device is untouched', async () => {
    const dev = await deviceOn100();
    const bad = path.join(world.dir, 'stick-tampered');
    await fsp.cp(world.stick, bad, { recursive: true });
    await tamperLargestLayer(bad, 'kiosk-1.1.0');
    const before = await snapshot(dev);
    const s = start(dev, bad);
    await s.waitFor('kiosk-1.1.0');
    s.keys('Enter');
    const screen = await s.waitFor('[DIGEST_MISMATCH]');
    expect(screen).toContain('part of the image does not match its signature');
    expect(screen).toContain('Next: the stick is damaged: re-copy it at headquarters');
    expect(screen).not.toContain('100%');
    await saveScreen('3-verify-damaged', screen);
    s.keys('Enter');
    await new Promise((r) => setTimeout(r, 300));
    expect(s.capture()).not.toContain('Confirm install');
    expect(await snapshot(dev)).toEqual(before);
  });

  it('cancels during the write on c + y: the running slot, its tree, the boot order and the floor are untouched; the target stays bad', async () => {
    const { dev, slot, before, s, screen: writing } = await installUntilWriteBlocks();
    try {
      let screen = writing;
      expect(screen).toContain('Cancel (c) is possible until the bootloader switch.');
      await saveScreen('5-apply', screen);
      s.keys('c');
      screen = await s.waitFor('Cancel the update?');
      expect(screen).toContain('y yes, cancel');
      s.keys('y');
      await s.waitFor('cancelling');
      slot.thaw(); // the write in progress finishes its current file, sees the cancel and stops
      screen = await s.waitFor('cancelled: running system untouched; slot A stays bad until rewritten.');
      expect(screen).not.toContain('Installed 1.1.0');
      await saveScreen('5-apply-cancelled', screen);
    } finally {
      await slot.cleanup();
    }
    const after = await snapshot(dev);
    // booted B: its tree, record and boot priority are untouched; target A is never booted.
    expect(after.grub.ORDER).toBe('B A');
    expect(after.grub.B_OK).toBe(before.grub.B_OK);
    expect(after.grub.A_OK).toBe('0');
    expect(after.slots.B).toEqual(before.slots.B);
    expect(after.slots.A).toMatchObject({ status: 'bad', lastError: { code: 'CANCELLED' } });
    expect(after.trees.b).toEqual(before.trees.b);
    expect(after.floor).toEqual(before.floor);
    expect(after.lastResult).toMatchObject({ action: 'apply', result: 'cancelled', code: 'CANCELLED' });
  });

  it('rolls back to the committed older release only after an explicit confirmation', async () => {
    const dev = await deviceOn100();
    await applyUpdate({ ...dev.opts, mediaRoot: world.stick, updateId: 'kiosk-1.1.0' }, deviceDeps);
    expect(await simulateBoot(dev)).toBe('A');
    expect((await bootCheck({ ...dev.opts, noReboot: true }, deviceDeps)).outcome).toBe('committed');
    const s = start(dev);
    await s.waitFor('Updates on the stick');
    s.keys('q');
    await s.waitFor(/Running\s+slot A, version 1\.1\.0/);
    s.keys('b');
    let screen = await s.waitFor('Go back to 1.0.0 (slot B)?');
    expect(screen).toContain('1.1.0 stays installed');
    expect(screen).toContain('>[ Back ]<');
    await saveScreen('7-rollback', screen);
    s.keys('Enter'); // Back is focused: nothing happens
    await s.waitFor(/ferry \| Device/);
    expect(grubList(dev).ORDER).toBe('A B');
    s.keys('b');
    await s.waitFor('Go back to 1.0.0');
    s.keys('Tab', 'Enter');
    screen = await s.waitFor('rollback by operator from 1.1.0 (slot A) to 1.0.0');
    expect(screen).toContain('Reboot now (r) to start it');
    expect(grubList(dev).ORDER).toBe('B A');
  });

  it('fits 80x24 without cutting key lines, and redraws after a resize', async () => {
    const dev = await deviceOn100();
    const s = start(dev);
    let screen = await s.waitFor('tablet-3.0.0');
    let r = rows(screen);
    expect(r).toHaveLength(24);
    expect(r.every((x) => Array.from(x).length <= 80)).toBe(true);
    expect(r[0]).toMatch(/^ ferry \| Updates on the stick\s+kiosk-0042  slot B$/);
    expect(r[23]).toBe(' ↑↓ choose  Enter verify  d details  r rescan  n next stick  ? help  q back');
    expect(r.find((x) => x.includes('kiosk-1.1.0'))).toMatch(/ferry signer\s+\d{4}-\d\d-\d\d\s+✓ ready$/);
    s.resize(100, 30);
    screen = await s.waitFor((/ ferry \| Updates on the stick {40,}kiosk-0042  slot B/));
    r = rows(screen);
    expect(r[29]).toContain('q back');
    s.resize(80, 24);
    screen = await s.waitFor(/^ ferry \| Updates on the stick {20,40}kiosk-0042  slot B$/m);
    expect(rows(screen)[23]).toContain('q back');
  });

  it('on SIGTERM mid-write (service stopped, stick pulled) cancels, waits for the engine, exits 143 and leaves the running slot as before', async () => {
    const { dev, slot, before, s } = await installUntilWriteBlocks();
    try {
      process.kill(s.pid(), 'SIGTERM');
      // The engine's write is parked on the frozen file system; thawing lets it see the cancel.
      await new Promise((r) => setTimeout(r, 300));
      slot.thaw();
      await s.waitFor('[exit 143]');
    } finally {
      await slot.cleanup();
    }
    const after = await snapshot(dev);
    expect(after.grub.ORDER).toBe('B A');
    expect(after.grub.B_OK).toBe(before.grub.B_OK);
    expect(after.slots.B).toEqual(before.slots.B);
    expect(after.slots.A.status).toBe('bad');
    expect(after.trees.b).toEqual(before.trees.b);
    expect(after.lastResult).toMatchObject({ result: 'cancelled' });
  });

  it('opens on a freshly booted pending system and keeps it (marks it good) after y, committing it in grubenv and the state', async () => {
    const dev = await deviceOn100();
    await applyUpdate({ ...dev.opts, mediaRoot: world.stick, updateId: 'kiosk-1.1.0' }, deviceDeps);
    expect(await simulateBoot(dev)).toBe('A');
    const s = start(dev);
    await s.waitFor(/Running\s+slot A, version 1\.1\.0/);
    s.keys('g');
    await s.waitFor('Keep 1.1.0 (slot A) as the committed version?');
    s.keys('y');
    await s.waitFor('1.1.0 (slot A) is committed and starts by default');
    const state = JSON.parse(await fsp.readFile(path.join(dev.stateDir, 'state.json'), 'utf8'));
    expect(state.slots.A).toMatchObject({ status: 'good', version: '1.1.0' });
    expect(grubList(dev).A_OK).toBe('1');
    s.keys('Enter');
    await s.waitFor(/A \*\s+good\s+1\.1\.0/);
  });

  it('shows every update of a stick signed under an unknown root as untrusted and refuses them', async () => {
    const other = await initRoot({ out: path.join(world.dir, 'pki/other-root'), name: 'somebody else', days: 3650 });
    const dev = await makeTrustingDevice({ ...world, rootCert: other.path });
    devices.push(dev);
    const s = start(dev);
    const screen = await s.waitFor('tablet-3.0.0');
    for (const id of ['kiosk-1.0.0', 'kiosk-1.1.0', 'kiosk-1.2.0', 'tablet-3.0.0']) {
      expect(rows(screen).find((r) => r.includes(id))).toMatch(/✗ untrusted$/);
    }
    expect(screen).toContain('[UNTRUSTED_SIGNER]');
    expect(screen).toContain('Next: do not install: report this stick to headquarters');
    s.keys('Enter');
    await new Promise((r) => setTimeout(r, 300));
    expect(s.capture()).not.toContain('ferry | Verify');
  });
});
