/**
 * `ferry device auto` end to end through the built CLI on throwaway devices (dir slots, file
 * bootloader) with real signed sticks: installs and reboots only with "reboot": "auto", never goes
 * back to an older version, stages outside the maintenance window and installs when it opens,
 * keeps the staged update when the stick is pulled, and draws the Apply screen under tmux.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeDevice, type TestDevice } from '../helpers/device.js';
import { makeStickKit, type StickKit } from '../helpers/device-stick.js';
import { ensureBuilt, ferry, MAIN, NODE } from './device-run.js';

let kit: StickKit;
let stick10: string;
let stick11: string;
const devices: TestDevice[] = [];

beforeAll(async () => {
  ensureBuilt();
  kit = await makeStickKit();
  stick10 = await kit.makeStick([{ image: 'v1', version: '1.0.0', counter: 100 }]);
  stick11 = await kit.makeStick([{ image: 'v2', version: '1.1.0', counter: 110 }]);
}, 300_000);
afterAll(async () => {
  for (const d of devices) await d.cleanup();
  await kit?.cleanup();
});

/** A device in hands-free mode; `extra` adds window / reboot settings. */
async function autoDevice(extra: Record<string, unknown> = {}): Promise<TestDevice> {
  const dev = await makeDevice({ kind: 'file', extra: { deviceId: `kiosk-auto-${devices.length}`, onInsert: 'auto', ...extra } });
  devices.push(dev);
  await kit.installTrust(dev.trustDir);
  const cfg = JSON.parse(await fsp.readFile(dev.configFile, 'utf8'));
  cfg.rebootCommand = `touch ${path.join(dev.root, 'rebooted')}`;
  await fsp.writeFile(dev.configFile, JSON.stringify(cfg));
  return dev;
}

const state = async (dev: TestDevice) => JSON.parse(await fsp.readFile(path.join(dev.stateDir, 'state.json'), 'utf8'));
const pad = (n: number) => String(n).padStart(2, '0');
const hms = (d: Date) => `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;

describe('ferry device auto (built CLI)', () => {
  it('says what a stick insertion starts (insert-mode), for the units\' ExecCondition', async () => {
    const dev = await autoDevice();
    const r = ferry(dev, ['device', 'insert-mode', '--is', 'tui']);
    expect(r.stdout).toBe('auto\n');
    expect(r.status).toBe(1);
    expect(ferry(dev, ['device', 'insert-mode', '--is', 'auto']).status).toBe(0);
  });

  it('installs the chosen update, writes the receipt and reboots with "reboot": "auto"', async () => {
    const dev = await autoDevice({ reboot: 'auto' });
    const r = ferry(dev, ['device', 'auto', '--media', stick11]);
    expect(r.stderr).toContain('ferry: chose kiosk-1.1.0 (version 1.1.0) for slot B');
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('installed kiosk-1.1.0 into slot B; rebooting\n');
    expect(existsSync(path.join(dev.root, 'rebooted'))).toBe(true);
    expect((await state(dev)).slots.B).toMatchObject({ status: 'pending', version: '1.1.0' });
    const receipts = await fsp.readdir(path.join(stick11, 'FERRY', 'receipts', 'kiosk-auto-1'));
    expect(receipts.some((f) => f.includes('apply'))).toBe(true);
  });

  it('does not reboot by default', async () => {
    const dev = await autoDevice();
    const r = ferry(dev, ['device', 'auto', '--media', stick11]);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('installed kiosk-1.1.0 into slot B; it starts at the next reboot\n');
    expect(existsSync(path.join(dev.root, 'rebooted'))).toBe(false);
  });

  it('never installs an older version than the running one (exit 4, nothing written)', async () => {
    const dev = await autoDevice({ reboot: 'auto' });
    expect(ferry(dev, ['device', 'init', '--version', '1.0.5', '--yes']).status).toBe(0);
    const r = ferry(dev, ['device', 'auto', '--media', stick10]);
    expect(r.status).toBe(4);
    expect(r.stderr).toContain('error[NO_APPLICABLE_UPDATE]: kiosk-1.0.0 (1.0.0) is not newer than the running 1.0.5');
    expect((await state(dev)).slots.B.status).toBe('empty');
    expect(existsSync(path.join(dev.root, 'rebooted'))).toBe(false);
  });

  it('outside the window: stages the update, and keeps it staged when the stick is pulled', async () => {
    const now = new Date();
    const dev = await autoDevice({ window: `${hms(new Date(now.getTime() + 2 * 3600_000))}-${hms(new Date(now.getTime() + 3 * 3600_000))}` });
    const child = spawn(NODE, [MAIN, 'device', 'auto', '--media', stick11, '--config', dev.configFile], { env: { ...process.env, TZ: 'UTC', FERRY_CMDLINE_FILE: dev.cmdlineFile } });
    let err = '';
    let out = '';
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    for (let i = 0; i < 600 && !err.includes('is staged'); i++) await new Promise((r) => setTimeout(r, 100));
    expect(err).toMatch(/outside the maintenance window: kiosk-1\.1\.0 is staged and installs at \S+ if the stick is still in/);
    expect((await state(dev)).pendingApply).toMatchObject({ updateId: 'kiosk-1.1.0', version: '1.1.0', counter: 110, mediaRoot: stick11 });
    child.kill('SIGTERM'); // what systemd does when the stick is pulled (BindsTo)
    const code = await new Promise<number | null>((r) => child.on('close', r));
    expect(code).toBe(0);
    expect(out).toContain('the stick was removed before the window opened; kiosk-1.1.0 stays staged');
    expect((await state(dev)).slots.B.status).toBe('empty');
  });
});

describe('ferry device auto on the console (tmux)', () => {
  it('shows the Apply screen read-only, says done, and exits when the stick is pulled', async () => {
    const dev = await autoDevice();
    const stick = await kit.makeStick([{ image: 'v2', version: '1.1.0', counter: 110 }]);
    const socket = `ferry-ship-auto-${process.pid}`;
    const tmux = (...a: string[]) => execFileSync('tmux', ['-L', socket, '-f', '/dev/null', ...a], { encoding: 'utf8', timeout: 10_000 });
    const q = (s: string) => `'${s}'`;
    const cmd = `env TERM=linux LANG=C.UTF-8 FERRY_CMDLINE_FILE=${q(dev.cmdlineFile)} ${q(NODE)} ${q(MAIN)} device auto --media ${q(stick)} --config ${q(dev.configFile)}; echo "[exit $?]"; sleep 600`;
    tmux('new-session', '-d', '-s', 'auto', '-x', '80', '-y', '24', cmd);
    const waitFor = async (what: string) => {
      for (let i = 0; i < 600; i++) {
        const screen = tmux('capture-pane', '-p', '-t', 'auto');
        if (screen.includes(what)) return screen;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`timed out waiting for ${what}; screen:\n${tmux('capture-pane', '-p', '-t', 'auto')}`);
    };
    try {
      const done = await waitFor('done: kiosk-1.1.0 is installed in slot B');
      expect(done).toContain('Installing: kiosk-1.1.0');
      expect(done).toContain('hands-free');
      expect(done).not.toContain('c cancel');
      tmux('send-keys', '-t', 'auto', 'c'); // a stray key changes nothing
      await fsp.rename(path.join(stick, 'FERRY'), path.join(stick, 'FERRY.pulled'));
      const end = await waitFor('[exit 0]');
      expect(end).toContain('installed kiosk-1.1.0 into slot B; it starts at the next reboot');
      expect((await state(dev)).slots.B.status).toBe('pending');
    } finally {
      tmux('kill-server');
    }
  });
});
