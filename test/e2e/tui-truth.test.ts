/**
 * Issue 10, item by item, through the real tsc-built ferry-tui in tmux at 80x24 and
 * 60x20, on real signed media and a throwaway grub device: the TUI follows the device's
 * real state after a reboot, offers only what the engine allows, and says what happened.
 * Every captured screen is checked for cut text.
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { apply, bootCheck, deviceDeps, status } from '../../src/device/index.js';
import { grubList, simulateBoot, type TestDevice } from '../helpers/device.js';
import { deviceOn100, freezableSlotA, makeSignedStick, makeTrustingDevice, type SignedStick, tamperLargestLayer, tuiArgs } from './tui-fixtures.js';
import { cutRows, rows, saveScreen, TuiSession } from './tui-harness.js';

let world: SignedStick;
let session: TuiSession | undefined;
const devices: TestDevice[] = [];

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

async function on100(): Promise<TestDevice> {
  const d = await deviceOn100(world);
  devices.push(d);
  return d;
}

/** 1.0.0 committed in B, then 1.1.0 installed into A and booted: A runs on trial. */
async function bootedIntoPending(): Promise<TestDevice> {
  const dev = await on100();
  await apply({ ...dev.opts, mediaRoot: world.stick, updateId: 'kiosk-1.1.0' }, deviceDeps);
  expect(await simulateBoot(dev)).toBe('A');
  return dev;
}

async function stateOf(dev: TestDevice) {
  return JSON.parse(await fsp.readFile(path.join(dev.stateDir, 'state.json'), 'utf8'));
}

const flat = (screen: string) => rows(screen).map((r) => r.trim()).join(' ').replace(/\s+/g, ' ');

for (const [width, height] of [[80, 24], [60, 20]] as const) {
  const size = `${width}x${height}`;
  const start = (dev: TestDevice, stick = world.stick, extra: string[] = []): TuiSession => {
    const { args, env } = tuiArgs(dev, stick);
    session = TuiSession.start([...args, ...extra], env, { width, height });
    return session;
  };
  /** Wait for `what`, check nothing on screen is cut, optionally keep it for docs/screens. */
  const see = async (s: TuiSession, what: string | RegExp, keep?: string): Promise<string> => {
    // A phrase may be wrapped over lines on the narrow terminal: match it across line breaks.
    const screen = await s.waitFor(typeof what === 'string' ? new RegExp(what.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/ /g, '\\s+')) : what);
    expect(cutRows(screen), `cut text at ${size}:\n${screen}`).toEqual([]);
    expect(rows(screen).every((r) => Array.from(r).length <= width)).toBe(true);
    if (keep) await saveScreen(`${keep}${width === 80 ? '' : `-${size}`}`, screen);
    return screen;
  };

  describe(`ferry-tui after the reboot and when something is off (${size})`, () => {
    it('1: opens on a running slot on trial, lists the stick as "finish pending first", and keeps it on g (pending → commit)', async () => {
      const dev = await bootedIntoPending();
      const s = start(dev);
      let screen = await see(s, 'is on trial, not committed', '1-device-pending');
      expect(flat(screen)).toContain('g keep this version');
      expect(flat(screen)).toContain('b go back to 1.0.0');
      expect(screen).toMatch(/A \*\s+pending\s+1\.1\.0\s+on trial, \d tries left/);
      expect(screen).not.toContain('damaged');
      s.keys('m');
      screen = await see(s, 'kiosk-1.2.0');
      expect(rows(screen).find((r) => r.includes('kiosk-1.1.0'))).toMatch(/finish pending first$/);
      expect(screen).not.toContain('damaged');
      s.keys('q');
      await s.waitFor('is on trial');
      s.keys('g');
      screen = await see(s, 'Keep 1.1.0 (slot A) as the committed version?', '7-keep');
      expect(flat(screen)).toContain('after this, versions older than 1.1.0 can no longer be installed');
      s.keys('y');
      await see(s, '1.1.0 (slot A) is committed and starts by default');
      expect((await stateOf(dev)).slots.A).toMatchObject({ status: 'good', version: '1.1.0' });
      expect(grubList(dev)).toMatchObject({ ORDER: 'A B', A_OK: '1' });
    });

    it('1, 2: goes back from a slot on trial; state, receipt and the next screen say "rollback by operator", never a failed health check', async () => {
      const dev = await bootedIntoPending();
      const stick = path.join(world.dir, `stick-back-${size}`);
      await fsp.cp(world.stick, stick, { recursive: true });
      let s = start(dev, stick);
      await s.waitFor('is on trial');
      s.keys('b');
      let screen = await see(s, 'Go back to 1.0.0 (slot B)?');
      expect(flat(screen)).toContain('1.1.0 is not committed: it is set aside');
      s.keys('y');
      screen = await see(s, /rollback by operator from 1\.1\.0 \(slot A\)/);
      expect(flat(screen)).toContain('Reboot now (r) to start it');
      expect(rows(screen)[height - 1]).toContain('r reboot now');
      s.kill();
      expect(await simulateBoot(dev)).toBe('B');
      const bc = await bootCheck({ ...dev.opts, noReboot: true }, deviceDeps);
      expect(bc.outcome).toBe('already-good');
      const state = await stateOf(dev);
      expect(JSON.stringify(state)).not.toContain('HEALTH_CHECK_FAILED');
      expect(state.rollback).toMatchObject({ by: 'operator', from: { slot: 'A', version: '1.1.0' }, to: { slot: 'B', version: '1.0.0' } });
      const dir = path.join(stick, 'FERRY', 'receipts', 'kiosk-0042');
      const file = (await fsp.readdir(dir)).find((f) => f.endsWith('-rollback.json'))!;
      expect(JSON.parse(await fsp.readFile(path.join(dir, file), 'utf8'))).toMatchObject({ action: 'rollback', rollback: { by: 'operator', from: { version: '1.1.0' } }, message: expect.stringContaining('rollback by operator') });
      s = start(dev, stick);
      await s.waitFor('Updates on the stick');
      s.keys('q');
      screen = await see(s, 'Rolled back', '1-device-rolled-back');
      expect(flat(screen)).toContain('by operator at');
      expect(flat(screen)).toContain('from 1.1.0 to 1.0.0');
      expect(screen).not.toContain('FAILED');
    });

    it('3: keeping a version whose health check failed shows the failure and the floor, and needs a second yes', async () => {
      const dev = await bootedIntoPending();
      const cfg = JSON.parse(await fsp.readFile(dev.configFile, 'utf8'));
      cfg.healthCheck = { command: 'echo "printer service did not start" >&2; exit 7', timeoutSec: 10 };
      await fsp.writeFile(dev.configFile, JSON.stringify(cfg));
      expect((await bootCheck({ ...dev.opts, noReboot: true }, deviceDeps)).outcome).toBe('rolled-back');
      const before = grubList(dev);
      const s = start(dev);
      let screen = await see(s, 'is running but marked bad');
      expect(flat(screen)).toContain('FAILED');
      s.keys('g');
      screen = await see(s, 'Keep 1.1.0 (slot A)', '7-keep-failed-check');
      expect(flat(screen)).toContain('printer service did not start');
      expect(flat(screen)).toContain('after this, versions older than 1.1.0 can no longer be installed');
      s.keys('y');
      screen = await see(s, 'Are you sure?');
      expect(grubList(dev)).toEqual(before);
      expect((await stateOf(dev)).slots.A.status).toBe('bad');
      s.keys('Tab', 'Enter');
      await see(s, 'despite its failed health check');
      const after = await stateOf(dev);
      expect(after.slots.A.status).toBe('good');
      expect(after.counterFloor).toEqual({ kiosk: after.slots.A.counter });
    });

    it('4: a cancel that loses the race with the bootloader switch is reported on Done', async () => {
      const dev = await on100();
      const slot = await freezableSlotA(dev);
      try {
        const s = start(dev);
        await s.waitFor('kiosk-1.1.0');
        s.keys('Enter');
        await s.waitFor('verified. Press Enter');
        s.keys('Enter');
        await s.waitFor('Install 1.1.0 into slot A?');
        slot.freeze();
        s.keys('y');
        await s.waitFor(/> write\s+running/);
        s.keys('c');
        await s.waitFor('Cancel the update?');
        slot.thaw(); // the write finishes while the question is on screen
        const screen = await see(s, 'Installed 1.1.0 into slot A.', '6-done-late-cancel');
        expect(flat(screen)).toContain('Your cancel came too late: the update was already installed.');
        expect(flat(screen)).toContain('1.1.0 gets 3 tries to start; the boot check commits it');
      } finally {
        await slot.cleanup();
      }
    });

    it('5: offers no rollback to an empty factory slot or a newer update waiting for its reboot, and says why', async () => {
      const dev = await on100();
      let s = start(dev);
      await s.waitFor('Updates on the stick');
      s.keys('q');
      let screen = await see(s, /Go back\s+none: slot A is empty/);
      expect(rows(screen)[height - 1]).not.toContain('b go back');
      s.keys('b');
      screen = await see(s, 'There is no previous version to go back to.', '7-no-rollback');
      expect(screen).not.toContain('[ Go back ]');
      s.kill();
      await apply({ ...dev.opts, mediaRoot: world.stick, updateId: 'kiosk-1.1.0' }, deviceDeps);
      s = start(dev);
      await s.waitFor('Updates on the stick');
      s.keys('q');
      await s.waitFor('Go back');
      s.keys('b');
      screen = await see(s, 'There is no previous version to go back to.');
      expect(flat(screen)).toContain('installed and not yet tried');
    });

    it('6, 10: starts on the update the engine would choose, and shows versions, not counters', async () => {
      const dev = await makeTrustingDevice(world);
      devices.push(dev);
      const s = start(dev);
      const screen = await see(s, 'the one ferry would choose', '2-media-choice');
      expect(rows(screen).find((r) => r.startsWith('> '))).toContain('kiosk-1.1.0');
      expect(screen).not.toMatch(/counter/i);
      s.keys('q');
      const dscreen = await see(s, /Running\s+slot A/);
      expect(dscreen).not.toMatch(/counter|\? → /);
    });

    it('7, 10: keeps a failed verify on the list while the stick is in, never 99% or "ETA 0s", and shows the whole detail on d', async () => {
      const dev = await on100();
      const bad = path.join(world.dir, `stick-tampered-${size}`);
      await fsp.cp(world.stick, bad, { recursive: true });
      await tamperLargestLayer(bad, 'kiosk-1.1.0');
      const s = start(dev, bad);
      await s.waitFor('kiosk-1.1.0');
      s.keys('Enter');
      let screen = await see(s, '[DIGEST_MISMATCH]', '3-verify-failed');
      expect(screen).not.toMatch(/99%|ETA 0s|-- MB\/s/);
      expect(screen).toContain('stopped at');
      s.keys('d');
      screen = await s.waitFor('ferry | Details');
      expect(flat(screen)).toMatch(/expected sha256:[0-9a-f]{6}/);
      s.keys('q');
      await s.waitFor('[DIGEST_MISMATCH]');
      s.keys('q');
      screen = await see(s, 'verify failed');
      expect(rows(screen).find((r) => r.includes('kiosk-1.1.0'))).toMatch(/✗ verify failed$/);
      s.keys('Enter');
      await new Promise((r) => setTimeout(r, 300));
      expect(s.capture()).not.toContain('ferry | Verify');
    });

    it('9: delivers waiting receipts as soon as a writable stick is in, and says what went there', async () => {
      const dev = await on100(); // the boot-check receipt waits on the device
      expect((await status(dev.opts, deviceDeps)).pendingReceipts).toBe(1);
      const stick = path.join(world.dir, `stick-receipts-${size}`);
      await fsp.cp(world.stick, stick, { recursive: true });
      const s = start(dev, stick);
      let screen = await see(s, '1 waiting receipt(s) written to this stick');
      const files = await fsp.readdir(path.join(stick, 'FERRY', 'receipts', 'kiosk-0042'));
      expect(files.some((f) => f.endsWith('-boot-check.json'))).toBe(true);
      expect((await status(dev.opts, deviceDeps)).pendingReceipts).toBe(0);
      s.keys('q');
      await s.waitFor('Receipts');
      s.keys('e');
      screen = await see(s, 'Written to sticks', '9-receipts');
      expect(flat(screen)).toContain('0 waiting for a writable stick');
      expect(flat(screen)).toContain('boot-check');
    });

    it('10: a pending slot is never "good, 3 left" before its reboot, and the log keeps the device history across runs', async () => {
      const dev = await on100();
      await apply({ ...dev.opts, mediaRoot: world.stick, updateId: 'kiosk-1.1.0' }, deviceDeps);
      const s = start(dev);
      await s.waitFor('Updates on the stick');
      s.keys('q');
      const screen = await see(s, /A\s+pending\s+1\.1\.0/);
      expect(screen).toMatch(/A\s+pending\s+1\.1\.0\s+on trial, 3 tries left/);
      s.keys('l');
      const log = await see(s, 'Device history', '8-log-history');
      expect(log).toMatch(/apply 1\.0\.0: success/);
      expect(log).toMatch(/boot-check 1\.0\.0: success/);
      expect(log).toMatch(/apply 1\.1\.0: success/);
    });

    it('readable: ? opens help for the screen, --lang de speaks German, an unknown --lang says so', async () => {
      const dev = await on100();
      let s = start(dev);
      await s.waitFor('Updates on the stick');
      s.keys('?');
      let screen = await see(s, 'ferry | Help', '10-help');
      expect(flat(screen)).toContain('Enter checks every byte of it first');
      s.kill();
      s = start(dev, world.stick, ['--lang', 'de']);
      screen = await see(s, 'bereit', '2-media-de');
      expect(screen).toContain('Updates auf dem Stick');
      // The engine's states and history are said in German too (the catalogue's strings-de-engine.ts).
      s.keys('q');
      screen = await see(s, /B \*\s+gut\s+1\.0\.0/, '1-device-de');
      expect(screen).toMatch(/A\s+leer\s/);
      expect(screen).not.toMatch(/\b(good|empty|pending|committed|none yet)\b/);
      s.keys('l');
      screen = await see(s, 'ferry | Protokoll', '8-log-de');
      expect(flat(screen)).toContain('Installation 1.0.0: erfolgreich');
      expect(flat(screen)).toContain('Bootprüfung 1.0.0: erfolgreich');
      expect(screen).not.toMatch(/\b(apply|success|boot-check|stick found|update\(s\))\b/);
      s.kill();
      s = start(dev, world.stick, ['--lang', 'xx']);
      screen = await s.waitFor('[exit 2]');
      expect(rows(screen).join('')).toContain('language "xx" is not supported: use one of en, de');
    });
  });
}
