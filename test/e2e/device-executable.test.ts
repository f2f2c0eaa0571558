/**
 * The device's single executable (npm run build:device) on a machine without Node: a fresh
 * debootstrap minbase root, no node on PATH, no node_modules. The CLI answers --version and
 * device status; the TUI (as ferry-tui and as `ferry tui`) draws under tmux with TERM=linux,
 * vt100 and xterm-256color from the terminfo the executable carries.
 */
import { execFileSync } from 'node:child_process';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { makeChroot, type Chroot } from '../helpers/chroot.js';
import { ensureDeviceExecutable } from '../helpers/device-executable.js';

let box: Chroot;
// One tmux server per test: a new session on the socket of a server that is still shutting
// down (after the previous test's kill-server) fails with "server exited unexpectedly".
let sockets = 0;
let socket = '';
const tmux = (...args: string[]) => execFileSync('tmux', ['-L', socket, '-f', '/dev/null', ...args], { encoding: 'utf8', timeout: 10_000 });

/** A device config in the root: dir slots, a JSON boot file, booted from A (declared in the config); `ferry device init` does the rest. */
async function writeDevice(root: string): Promise<void> {
  const p = (...s: string[]) => path.join(root, ...s);
  for (const d of ['etc/ferry', 'srv/slot-a', 'srv/slot-b', 'srv/empty-stick']) await fsp.mkdir(p(d), { recursive: true });
  const config = {
    compatible: 'acme,kiosk-v2',
    // a minbase root has no /etc/machine-id
    deviceId: 'kiosk-0001',
    stateDir: '/var/lib/ferry',
    trustDir: '/etc/ferry/trust',
    bootedSlot: 'A',
    slots: { A: { type: 'dir', path: '/srv/slot-a' }, B: { type: 'dir', path: '/srv/slot-b' } },
    bootloader: { type: 'file', path: '/var/lib/ferry-boot/boot.json', attempts: 3 },
    rebootCommand: 'true',
  };
  await fsp.writeFile(p('etc/ferry/device.json'), JSON.stringify(config, null, 2));
}

beforeAll(async () => {
  const exe = ensureDeviceExecutable();
  box = await makeChroot('ferry-ship-sea-');
  await fsp.copyFile(exe, path.join(box.root, 'usr/local/bin/ferry'));
  await fsp.chmod(path.join(box.root, 'usr/local/bin/ferry'), 0o755);
  await fsp.symlink('ferry', path.join(box.root, 'usr/local/bin/ferry-tui'));
  await writeDevice(box.root);
}, 20 * 60_000);
afterEach(() => {
  if (!socket) return; // never the default tmux server
  try {
    tmux('kill-server');
  } catch {
    // no session left
  }
});
afterAll(async () => {
  await box?.cleanup();
});

async function waitForScreen(what: string | RegExp, timeoutMs = 30_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const screen = tmux('capture-pane', '-p', '-t', 'sea');
    if (typeof what === 'string' ? screen.includes(what) : what.test(screen)) return screen;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${String(what)}; screen was:\n${screen}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('dist/device/ferry in a Debian minbase root without Node', () => {
  it('the root has no node and no node_modules', () => {
    expect(box.run(['sh', '-c', 'command -v node nodejs']).status).not.toBe(0);
    expect(box.run(['sh', '-c', 'find / -xdev -name node_modules -print -quit']).stdout).toBe('');
  });

  it('prints its version, provisions the device with device init, and prints the device status', () => {
    const v = box.run(['ferry', '--version']);
    expect(v.stderr).toBe('');
    expect(v.stdout.trim()).toBe('0.1.0');
    const init = box.run(['ferry', 'device', 'init', '--config', '/etc/ferry/device.json', '--version', '1.0.0', '--yes']);
    expect(init.status).toBe(0);
    expect(init.stdout).toContain('provisioned device kiosk-0001 (slot A good and committed, version 1.0.0)');
    expect(box.run(['cat', '/var/lib/ferry-boot/boot.json']).stdout).toContain('"order"');
    const s = box.run(['ferry', 'device', 'status', '--config', '/etc/ferry/device.json', '--json']);
    expect(s.stderr).toBe('');
    expect(s.status).toBe(0);
    const status = JSON.parse(s.stdout) as { ok: boolean; booted: string; deviceId: string; slots: { A: { status: string; version: string } } };
    expect(status.ok).toBe(true);
    expect(status.slots.A).toMatchObject({ status: 'good', version: '1.0.0' });
    expect(status.booted).toBe('A');
    expect(status.deviceId).toBe('kiosk-0001');
  });

  it('reports a typed error with its exit code, without a stack trace', () => {
    const r = box.run(['ferry', 'device', 'status', '--config', '/etc/ferry/missing.json']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^ferry: error\[CONFIG_INVALID\]: device config \/etc\/ferry\/missing\.json does not exist/);
    expect(r.stderr).not.toMatch(/at .*:\d+:\d+/);
  });

  for (const [term, argv] of [
    ['linux', ['ferry-tui']],
    ['vt100', ['ferry', 'tui']],
    ['xterm-256color', ['ferry-tui']],
  ] as const) {
    it(`runs the TUI as \`${argv.join(' ')}\` with TERM=${term} and leaves no terminfo behind`, async () => {
      const cmd = box.commandLine([...argv, '--config', '/etc/ferry/device.json', '--media', '/srv/empty-stick'], { TERM: term, LANG: term === 'vt100' ? 'C' : 'C.UTF-8' });
      socket = `ferry-ship-sea-${process.pid}-${++sockets}`;
      tmux('new-session', '-d', '-s', 'sea', '-x', '80', '-y', '24', `${cmd}; echo "[exit $?]"; sleep 600`);
      const screen = await waitForScreen('[MEDIA_NOT_FOUND]');
      expect(screen).toContain('ferry | Updates on the stick');
      expect(screen).toContain('Next: plug in the stick');
      if (term === 'vt100') expect(screen).not.toMatch(/[^\x00-\x7f]/);
      // the terminfo the executable wrote for blessed exists while it runs ...
      expect(box.run(['sh', '-c', `ls -d /tmp/ferry-terminfo-*/*/${term}`]).status).toBe(0);
      tmux('send-keys', '-t', 'sea', 'q');
      await waitForScreen(/ferry \| Device/);
      tmux('send-keys', '-t', 'sea', 'q');
      await waitForScreen('[exit 0]');
      // ... and is gone after it exits
      expect(box.run(['sh', '-c', 'ls -d /tmp/ferry-terminfo-* 2>/dev/null']).stdout).toBe('');
    });
  }
});
