import { execFileSync } from 'node:child_process';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BOOTLOADER_TYPES, createBootloader } from '../../../src/device/bootloaders/registry.js';
import type { Bootloader } from '../../../src/device/types.js';
import { type BootloaderKind, fwPrintenv, grubList, makeDevice, simulateBoot, type TestDevice } from '../../helpers/device.js';

let dev: TestDevice | undefined;
afterEach(async () => {
  await dev?.cleanup();
  dev = undefined;
});

async function open(kind: BootloaderKind): Promise<Bootloader> {
  dev = await makeDevice({ kind });
  const cfg = JSON.parse(await fsp.readFile(dev.configFile, 'utf8'));
  return createBootloader(cfg.bootloader, { stateDir: dev.stateDir });
}

describe.each(['file', 'grub', 'uboot'] as const)('the %s bootloader', (kind) => {
  it('starts with A good first and B not bootable', async () => {
    const bl = await open(kind);
    const s = await bl.getState();
    expect(s.order).toEqual(['A', 'B']);
    expect(s.slots.A).toEqual({ good: true, attemptsLeft: 3 });
    expect(s.slots.B.attemptsLeft).toBe(0);
  });

  it('makes a slot primary with N attempts, marks it good, and marks it bad last in order', async () => {
    const bl = await open(kind);
    await bl.markBad('B');
    expect((await bl.getState()).slots.B).toEqual({ good: false, attemptsLeft: 0 });
    await bl.setPrimary('B', 2);
    let s = await bl.getState();
    expect(s.order).toEqual(['B', 'A']);
    expect(s.slots.B.attemptsLeft).toBe(2);
    await bl.markGood('B');
    s = await bl.getState();
    expect(s.order).toEqual(['B', 'A']);
    expect(s.slots.B).toEqual({ good: true, attemptsLeft: kind === 'grub' ? 2 : 3 });
    await bl.markBad('B');
    s = await bl.getState();
    expect(s.order).toEqual(['A', 'B']);
    expect(s.slots.B).toEqual({ good: false, attemptsLeft: 0 });
    expect(s.slots.A.good).toBe(true);
  });
});

describe('grub bootloader interop', () => {
  it('writes RAUC variables that the real grub-editenv lists, and reads what grub-editenv sets', async () => {
    const bl = await open('grub');
    await bl.setPrimary('B', 3);
    expect(grubList(dev!)).toMatchObject({ ORDER: 'B A', B_OK: '1', B_TRY: '0', A_OK: '1', FERRY_MAX_TRY: '3' });
    execFileSync('grub-editenv', [dev!.bootFile, 'set', 'B_TRY=2']); // what GRUB's save_env does after two boots
    expect((await bl.getState()).slots.B).toEqual({ good: true, attemptsLeft: 1 });
    expect((await fsp.stat(dev!.bootFile)).size).toBe(1024);
  });

  it('explains how to create a missing grubenv', async () => {
    const bl = await open('grub');
    await fsp.rm(dev!.bootFile);
    await expect(bl.getState()).rejects.toThrow(/grub-editenv .* create/);
  });
});

describe('uboot bootloader interop', () => {
  it('sets BOOT_ORDER and BOOT_x_LEFT through the real fw_setenv in one script write', async () => {
    const bl = await open('uboot');
    await bl.setPrimary('B', 3);
    expect(fwPrintenv(dev!)).toMatchObject({ BOOT_ORDER: 'B A', BOOT_B_LEFT: '3', BOOT_A_LEFT: '3', bootcmd: 'run ferry_boot' });
    execFileSync('fw_setenv', ['-c', dev!.fwConfig!, 'BOOT_B_LEFT', '1']);
    expect((await bl.getState()).slots.B.attemptsLeft).toBe(1);
    expect((await fsp.readdir(dev!.stateDir)).filter((n) => n.includes('fw_setenv'))).toEqual([]);
  });

  it('after mark-bad the failed slot is never resurrected when every try is used up (boot.cmd gives tries back to the first slot only)', async () => {
    const bl = await open('uboot');
    await bl.setPrimary('B', 3);
    await bl.markBad('B');
    expect(fwPrintenv(dev!)).toMatchObject({ BOOT_ORDER: 'A B', BOOT_B_LEFT: '0' });
    execFileSync('fw_setenv', ['-c', dev!.fwConfig!, 'BOOT_A_LEFT', '0']); // e.g. power cuts before boot-check
    expect(await simulateBoot(dev!)).toBe('A');
    expect(fwPrintenv(dev!)).toMatchObject({ BOOT_A_LEFT: '2', BOOT_B_LEFT: '0' });
    const boot = await fsp.readFile(path.resolve('samples/uboot/boot.cmd'), 'utf8');
    expect(boot).not.toMatch(/setenv BOOT_A_LEFT 3\s*\n\s*setenv BOOT_B_LEFT 3\s*\n\s*saveenv/);
  });

  it('refuses an unreadable (bad CRC) environment instead of starting from an empty one', async () => {
    const bl = await open('uboot');
    await fsp.writeFile(dev!.bootFile, Buffer.alloc(0x4000, 0xff));
    await expect(bl.getState()).rejects.toMatchObject({ code: 'BOOTLOADER_ERROR' });
    await expect(bl.markBad('B')).rejects.toMatchObject({ code: 'BOOTLOADER_ERROR' });
  });
});

describe('custom bootloader', () => {
  it('drives a site script with get / set-primary / mark-good / mark-bad', async () => {
    dev = await makeDevice({ kind: 'file' });
    const script = path.join(dev.root, 'site-boot.sh');
    const log = path.join(dev.root, 'calls.log');
    await fsp.writeFile(script, `#!/bin/sh\necho "$@" >> ${log}\nif [ "$1" = get ]; then cat ${dev.bootFile}; fi\n`, { mode: 0o755 });
    const bl = createBootloader({ type: 'custom', command: `${script}`, attempts: 3 }, { stateDir: dev.stateDir });
    expect((await bl.getState()).order).toEqual(['A', 'B']);
    await bl.setPrimary('B', 3);
    await bl.markGood('B');
    await bl.markBad('A');
    expect(await fsp.readFile(log, 'utf8')).toBe('get\nset-primary B 3\nmark-good B\nmark-bad A\n');
  });

  it('reports a failing script as BOOTLOADER_ERROR with its message', async () => {
    const bl = createBootloader({ type: 'custom', command: 'echo broken >&2; exit 3; :', attempts: 3 }, { stateDir: '/tmp' });
    await expect(bl.markGood('A')).rejects.toThrow(/broken/);
  });
});

describe('createBootloader', () => {
  it('rejects unknown types listing the known ones', () => {
    expect(BOOTLOADER_TYPES).toEqual(['grub', 'uboot', 'file', 'custom']);
    expect(() => createBootloader({ type: 'lilo', attempts: 3 }, { stateDir: '/tmp' })).toThrow(/known: grub, uboot, file, custom/);
  });
});
