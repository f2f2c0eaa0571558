import { execFileSync } from 'node:child_process';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { bootCheck } from '../../src/device/boot-check.js';
import { deviceDeps } from '../../src/device/deps.js';
import { markBad, markGood } from '../../src/device/maintenance.js';
import { emptyState, loadState, saveState } from '../../src/device/state.js';
import { makeDevice, type TestDevice } from '../helpers/device.js';

let dev: TestDevice | undefined;
afterEach(async () => {
  await dev?.cleanup();
  dev = undefined;
});

async function deviceWith(healthCheck: { command: string; timeoutSec?: number } | undefined, slots: Parameters<typeof setSlots>[0]): Promise<TestDevice> {
  dev = await makeDevice({ kind: 'file', ...(healthCheck ? { healthCheck } : {}) });
  await setSlots(slots);
  return dev;
}

async function setSlots(slots: { A: string; B: string }): Promise<void> {
  const s = emptyState();
  s.slots.A = { status: slots.A as 'good', target: 'kiosk', version: '1.0.0', counter: 100 };
  s.slots.B = { status: slots.B as 'good', target: 'kiosk', version: '1.1.0', counter: 110 };
  await saveState(dev!.stateDir, s);
}

describe('bootCheck', () => {
  it('adopts a factory slot that ferry never wrote as good', async () => {
    dev = await makeDevice({ kind: 'file' });
    const r = await bootCheck({ ...dev.opts, noReboot: true }, deviceDeps);
    expect(r.outcome).toBe('adopted');
    expect((await loadState(dev.stateDir)).slots.A.status).toBe('good');
  });

  it('kills a health check that hangs after its timeout and rolls back', async () => {
    await deviceWith({ command: 'sleep 30', timeoutSec: 1 }, { A: 'pending', B: 'good' });
    const r = await bootCheck({ ...dev!.opts, noReboot: true }, deviceDeps);
    expect(r).toMatchObject({ outcome: 'rolled-back', rebooted: false, message: expect.stringMatching(/timed out after 1s/) });
    expect((await loadState(dev!.stateDir)).slots.A).toMatchObject({ status: 'bad', lastError: { code: 'HEALTH_CHECK_FAILED' } });
  });

  it('does not roll back into a slot that is not good: the failing slot keeps running', async () => {
    await deviceWith({ command: 'echo disk full >&2; exit 7' }, { A: 'pending', B: 'empty' });
    const r = await bootCheck({ ...dev!.opts, noReboot: true }, deviceDeps);
    expect(r).toMatchObject({ outcome: 'unhealthy-no-fallback', message: expect.stringMatching(/exited 7: disk full/) });
    const s = await loadState(dev!.stateDir);
    expect(s.slots.A.status).toBe('pending');
    expect(JSON.parse(await fsp.readFile(dev!.bootFile, 'utf8')).order[0]).toBe('A');
  });

  it('runs the reboot command after a rollback unless told not to', async () => {
    await deviceWith({ command: 'false' }, { A: 'pending', B: 'good' });
    const cfg = JSON.parse(await fsp.readFile(dev!.configFile, 'utf8'));
    cfg.rebootCommand = `touch ${path.join(dev!.root, 'rebooted')}`;
    await fsp.writeFile(dev!.configFile, JSON.stringify(cfg));
    expect((await bootCheck(dev!.opts, deviceDeps)).rebooted).toBe(true);
    await expect(fsp.stat(path.join(dev!.root, 'rebooted'))).resolves.toBeDefined();
  });

  it('reports a booted slot that is marked bad instead of touching anything', async () => {
    await deviceWith(undefined, { A: 'bad', B: 'good' });
    const before = await fsp.readFile(dev!.bootFile, 'utf8');
    expect((await bootCheck({ ...dev!.opts, noReboot: true }, deviceDeps)).outcome).toBe('running-bad-slot');
    expect(await fsp.readFile(dev!.bootFile, 'utf8')).toBe(before);
  });
});

describe('mark-good and mark-bad', () => {
  it('commits the booted slot and raises the floor; refuses to mark the only good slot bad', async () => {
    await deviceWith(undefined, { A: 'pending', B: 'empty' });
    await expect(markBad({ ...dev!.opts, slot: 'A' }, deviceDeps)).rejects.toMatchObject({ code: 'SLOT_BUSY' });
    await markGood(dev!.opts, deviceDeps);
    const s = await loadState(dev!.stateDir);
    expect(s.slots.A.status).toBe('good');
    expect(s.counterFloor).toEqual({ kiosk: 100 });
  });
});

describe('samples', () => {
  it('the grub.cfg snippet passes grub-script-check', () => {
    expect(() => execFileSync('grub-script-check', [path.resolve('samples/grub/grub.cfg')])).not.toThrow();
  });

  it('marking the running slot bad also makes the good fallback bootable in the bootloader, so something boots next', async () => {
    await deviceWith(undefined, { A: 'good', B: 'good' });
    await fsp.writeFile(dev!.bootFile, JSON.stringify({ order: ['A', 'B'], slots: { A: { good: true, attemptsLeft: 3 }, B: { good: false, attemptsLeft: 0 } } }));
    await markBad({ ...dev!.opts, slot: 'A' }, deviceDeps);
    expect(JSON.parse(await fsp.readFile(dev!.bootFile, 'utf8'))).toMatchObject({ order: ['B', 'A'], slots: { A: { good: false }, B: { good: true, attemptsLeft: 3 } } });
  });
});
