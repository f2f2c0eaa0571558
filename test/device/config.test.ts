import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadDeviceConfig, parseDeviceConfig } from '../../src/device/config.js';

const known = { slots: ['dir', 'block', 'bootc'], bootloaders: ['grub', 'uboot', 'file', 'custom'] };
const good = {
  compatible: 'acme,kiosk-v2',
  deviceId: 'kiosk-17',
  slots: { A: { type: 'dir', path: '/slots/a' }, B: { type: 'dir', path: '/slots/b' } },
  bootloader: { type: 'grub', envFile: '/boot/grub/grubenv' },
};

describe('parseDeviceConfig', () => {
  it('fills in the documented defaults', () => {
    const c = parseDeviceConfig(good, known);
    expect(c).toMatchObject({ stateDir: '/var/lib/ferry', trustDir: '/etc/ferry/trust', rebootCommand: 'systemctl reboot', policy: { requiredSigners: 1, allowSameVersion: false } });
    expect(c.bootloader).toEqual({ type: 'grub', envFile: '/boot/grub/grubenv', attempts: 3 });
    expect(c.healthCheck).toBeUndefined();
  });

  it('lists every bad field at once', () => {
    const bad = { ...good, compatible: '', slots: { A: { type: 'floppy' }, C: {} }, bootloader: { type: 'lilo', attempts: 0 }, healthCheck: { command: 'x', timeoutSec: -1 }, policy: { requiredSigners: 0 }, colour: 'red' };
    try {
      parseDeviceConfig(bad, known);
      expect.unreachable();
    } catch (e) {
      const problems = (e as { details: { problems: string[] } }).details.problems;
      expect((e as { code: string }).code).toBe('CONFIG_INVALID');
      expect(problems.join('\n')).toMatch(/unknown field "colour"/);
      expect(problems.join('\n')).toMatch(/"compatible"/);
      expect(problems.join('\n')).toMatch(/exactly "A" and "B" \(found: A, C\)/);
      expect(problems.join('\n')).toMatch(/slots.A.type "floppy" is unknown \(known: dir, block, bootc\)/);
      expect(problems.join('\n')).toMatch(/bootloader.type "lilo" is unknown \(known: grub, uboot, file, custom\)/);
      expect(problems.join('\n')).toMatch(/attempts/);
      expect(problems.join('\n')).toMatch(/timeoutSec/);
      expect(problems.join('\n')).toMatch(/requiredSigners/);
      expect(problems.length).toBe(8);
    }
  });

  it.each([
    ['the same dir', { A: { type: 'dir', path: '/slots/a' }, B: { type: 'dir', path: '/slots/a/' } }],
    ['nested dirs', { A: { type: 'dir', path: '/slots' }, B: { type: 'dir', path: '/slots/b' } }],
    ['the same block device', { A: { type: 'block', device: '/dev/sda2' }, B: { type: 'block', device: '/dev/./sda2' } }],
  ])('refuses slots A and B on %s: writing one would erase the other, which may be running', (_, slots) => {
    expect(() => parseDeviceConfig({ ...good, slots }, known)).toThrow(/slots A and B/);
  });

  it('refuses a device id that could escape the receipts folder', () => {
    expect(() => parseDeviceConfig({ ...good, deviceId: '../x' }, known)).toThrow(/deviceId/);
    for (const deviceId of ['..', '.']) expect(() => parseDeviceConfig({ ...good, deviceId }, known)).toThrow(/deviceId/);
  });
});

describe('loadDeviceConfig', () => {
  it('takes the device id from /etc/machine-id when the config has none, and explains a missing file', async () => {
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'ferry-config-'));
    try {
      const { deviceId: _omit, ...rest } = good;
      await fsp.writeFile(path.join(dir, 'device.json'), JSON.stringify(rest));
      await fsp.writeFile(path.join(dir, 'machine-id'), 'abc123\n');
      const c = await loadDeviceConfig(path.join(dir, 'device.json'), known, path.join(dir, 'machine-id'));
      expect(c.deviceId).toBe('abc123');
      await expect(loadDeviceConfig(path.join(dir, 'nope.json'), known)).rejects.toThrow(/does not exist.*--config/);
      await fsp.writeFile(path.join(dir, 'dup.json'), '{"compatible":"a","compatible":"b"}');
      await expect(loadDeviceConfig(path.join(dir, 'dup.json'), known)).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
    } finally {
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });
});

describe('openDevice', () => {
  it('reports the parameter problems of both slots together', async () => {
    const { openDevice } = await import('../../src/device/context.js');
    const { deviceDeps } = await import('../../src/device/deps.js');
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'ferry-config-'));
    try {
      const f = path.join(dir, 'device.json');
      await fsp.writeFile(f, JSON.stringify({ ...good, bootloader: { type: 'file', path: '/x' }, slots: { A: { type: 'dir', path: 'relative' }, B: { type: 'block', colour: 1 } } }));
      await expect(openDevice({ configFile: f, env: { FERRY_BOOTED_SLOT: 'A' } }, deviceDeps)).rejects.toMatchObject({
        code: 'CONFIG_INVALID',
        message: expect.stringMatching(/slots\.A\.path.*; .*slots\.B/),
      });
    } finally {
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });
});

describe('sample device configs', () => {
  it.each(['samples/device/device.json', 'samples/device/device-uboot.json'])('%s is valid', async (file) => {
    const { BOOTLOADER_TYPES } = await import('../../src/device/bootloaders/registry.js');
    const { SLOT_TYPES } = await import('../../src/device/slots/registry.js');
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'ferry-config-'));
    try {
      await fsp.writeFile(path.join(dir, 'machine-id'), '4f1c0e9a2b7d4e8f9a0b1c2d3e4f5a6b\n');
      const c = await loadDeviceConfig(path.resolve(file), { slots: Object.keys(SLOT_TYPES), bootloaders: BOOTLOADER_TYPES }, path.join(dir, 'machine-id'));
      expect(c.slots.A.type).toBe('block');
      expect(c.deviceId).toMatch(/^(4f1c0e9a2b7d4e8f9a0b1c2d3e4f5a6b|kiosk-0042)$/);
    } finally {
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });
});
