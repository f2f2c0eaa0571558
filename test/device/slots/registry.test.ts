import { describe, expect, it } from 'vitest';
import { mkfsCommand, mountPointsOf, parseBlockSlotConfig } from '../../../src/device/slots/block.js';
import { stagedDigest } from '../../../src/device/slots/bootc.js';
import { createSlot, SLOT_TYPES } from '../../../src/device/slots/registry.js';
import { isFerryError } from '../../../src/errors.js';

const ctx = { stateDir: '/var/lib/ferry' };

function errorOf(f: () => unknown): { code: string; message: string; details: Record<string, unknown> } {
  try {
    f();
  } catch (e) {
    if (isFerryError(e)) return e;
    throw e;
  }
  throw new Error('expected an error');
}

describe('createSlot', () => {
  it('builds each known slot type from its device.json object', () => {
    expect(Object.keys(SLOT_TYPES).sort()).toEqual(['block', 'bootc', 'dir']);
    expect(createSlot('A', { type: 'dir', path: '/srv/slots/a' }, ctx).describe()).toBe('dir /srv/slots/a');
    expect(createSlot('B', { type: 'block', device: '/dev/sda3' }, ctx).describe()).toBe('block /dev/sda3 (ext4)');
    const bootc = createSlot('B', { type: 'bootc' }, ctx);
    expect([bootc.name, bootc.type]).toEqual(['B', 'bootc']);
    expect(bootc.describe()).toContain('/var/lib/ferry/bootc/oci');
  });

  it('refuses an unknown type with UNKNOWN_SLOT_TYPE, listing the known ones', () => {
    const e = errorOf(() => createSlot('A', { type: 'floppy' }, ctx));
    expect(e.code).toBe('UNKNOWN_SLOT_TYPE');
    expect(e.message).toContain('dir, block, bootc');
    expect(errorOf(() => createSlot('A', { type: 'toString' }, ctx)).code).toBe('UNKNOWN_SLOT_TYPE');
    expect(errorOf(() => createSlot('A', {}, ctx)).code).toBe('CONFIG_INVALID');
    expect(errorOf(() => createSlot('A', null, ctx)).code).toBe('CONFIG_INVALID');
  });

  it('lists every bad field of a slot in one CONFIG_INVALID', () => {
    const e = errorOf(() => createSlot('B', { type: 'block', device: 'sda3', fsType: 'ntfs', mkfsArgs: '-L root', colour: 'red' }, ctx));
    expect(e.code).toBe('CONFIG_INVALID');
    expect(e.details.problems).toEqual([
      'slots.B.colour is not a parameter of a block slot (known: device, fsType, mkfsArgs)',
      'slots.B.device "sda3" must be an absolute path',
      'slots.B.fsType must be one of ext4, ext3, ext2, xfs',
      'slots.B.mkfsArgs must be a list of strings',
    ]);
    expect((errorOf(() => createSlot('A', { type: 'dir' }, ctx)).details.problems as string[])[0]).toContain('slots.A.path must be set');
    expect(errorOf(() => createSlot('A', { type: 'bootc', bootcPath: 'bin/bootc' }, ctx)).code).toBe('CONFIG_INVALID');
  });

  it('refuses a dir slot at / or around the state directory', () => {
    expect(errorOf(() => createSlot('A', { type: 'dir', path: '/' }, ctx)).message).toContain('never erase the root');
    expect(errorOf(() => createSlot('A', { type: 'dir', path: '/var/lib/../../' }, ctx)).code).toBe('CONFIG_INVALID');
    expect(errorOf(() => createSlot('A', { type: 'dir', path: '/var/lib' }, ctx)).message).toContain('state directory');
    expect(createSlot('A', { type: 'dir', path: '/var/lib/ferry-slots' }, ctx).type).toBe('dir');
  });
});

describe('block slot helpers', () => {
  it('builds a forced, quiet mkfs command with the admin arguments before the device', () => {
    expect(mkfsCommand(parseBlockSlotConfig('A', { type: 'block', device: '/dev/vdb1', mkfsArgs: ['-L', 'rootA'] }))).toEqual(['mkfs.ext4', ['-F', '-q', '-L', 'rootA', '/dev/vdb1']]);
    expect(mkfsCommand(parseBlockSlotConfig('A', { type: 'block', device: '/dev/vdb1', fsType: 'xfs' }))).toEqual(['mkfs.xfs', ['-f', '-q', '/dev/vdb1']]);
  });

  it('finds where a device is mounted from mountinfo, octal escapes decoded', () => {
    const info = ['22 1 254:1 / / rw - ext4 /dev/vda1 rw', '40 22 7:3 / /mnt/with\\040space rw - ext4 /dev/loop3 rw', '41 22 7:30 / /other rw - ext4 /dev/loop30 rw'].join('\n');
    expect(mountPointsOf(info, '7:3')).toEqual(['/mnt/with space']);
    expect(mountPointsOf(info, '254:1')).toEqual(['/']);
    expect(mountPointsOf(info, '8:0')).toEqual([]);
  });
});

describe('bootc status parsing', () => {
  it('reads status.staged.image.imageDigest and nothing else', () => {
    expect(stagedDigest({ status: { staged: { image: { imageDigest: 'sha256:ab' } } } })).toBe('sha256:ab');
    expect(stagedDigest({ status: { staged: null, booted: { image: { imageDigest: 'sha256:ab' } } } })).toBeUndefined();
    expect(stagedDigest(null)).toBeUndefined();
  });
});
