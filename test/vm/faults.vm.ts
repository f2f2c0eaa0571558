/**
 * Scenarios 5 and 6 of the virtual kiosk: the USB stick pulled mid-apply (QMP device_del)
 * and plugged back; a slot partition too small for the image; a read-only data partition.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { readBuild } from './build.js';
import { type Case, dropCase, grubenv, type KioskBuild, newCase, readState, setScenario, stickReceipts, Vm } from './kiosk.js';

let build: KioskBuild;
let work: string;
beforeAll(() => {
  build = readBuild(inject('kioskDir'));
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-vm-faults-'));
});
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

const BOOTS = 25 * 60_000;

/** sha256 of `len` bytes of the disk image at `offset` (a partition, read on the host). */
function regionHash(disk: string, offset: number, len: number): string {
  return execFileSync('sh', ['-c', `dd if="$0" bs=1M skip=${offset / 2 ** 20} count=${len / 2 ** 20} status=none | sha256sum`, disk], { encoding: 'utf8' }).split(' ')[0]!;
}

function jsonOf(events: string[], what: string, n: number): { ok?: boolean; error?: { code: string; message: string } } {
  const lines = events.filter((e) => e.startsWith(`${what} json `));
  expect(lines.length, events.join('\n')).toBeGreaterThan(n);
  return JSON.parse(lines[n]!.slice(`${what} json `.length));
}

describe('virtual kiosk, faults', () => {
  const cases: Case[] = [];
  afterAll(async () => {
    for (const c of cases) await dropCase(c);
  });

  it('5: the stick pulled mid-apply gives a typed error, B stays bad, A untouched; plugged back, the apply completes', async () => {
    const c = newCase(build, work, 'pulled');
    cases.push(c);
    const aBefore = regionHash(c.disk, build.layout.SLOT_A_OFFSET, 320 * 2 ** 20);
    setScenario(c, ['apply-retry', 'off']);
    const vm = new Vm(c);
    const start = await vm.waitFor(/^apply start /, BOOTS);
    await new Promise((r) => setTimeout(r, 20_000)); // into the verify/format/write
    expect(await vm.qmp('device_del', { id: 'stick' })).toMatchObject({ return: {} });
    await vm.waitFor(/^waiting for the stick to be plugged back$/, BOOTS, start.index);
    const failed = jsonOf(vm.events(), 'apply', 0);
    expect(failed.ok).toBe(false);
    expect(failed.error?.code).toMatch(/^[A-Z][A-Z_]+$/);
    expect(await vm.qmp('device_add', { driver: 'usb-storage', bus: 'xhci.0', drive: 'stickimg', id: 'stick', removable: true })).toMatchObject({ return: {} });
    await vm.waitExit(BOOTS);
    const ev = vm.events();
    expect(ev.filter((e) => /^apply exit /.test(e)), ev.join('\n')).toEqual([expect.stringMatching(/^apply exit [1-9]/), 'apply exit 0']);
    expect(ev).toContain('booted slot B version 1.1.0');
    expect(readState(c).slots.B).toMatchObject({ status: 'good', version: '1.1.0' });
    expect(grubenv(c)).toMatchObject({ ORDER: 'B A', B_OK: '1', A_OK: '1' });
    // the failed attempt left B bad (its receipt says so, if the stick took it), and A was never written
    const failure = stickReceipts(c).find((r) => r.action === 'apply' && r.result === 'failure') as { after?: { B: { status: string } } } | undefined;
    if (failure) expect(failure.after?.B.status).toBe('bad');
    expect(regionHash(c.disk, build.layout.SLOT_A_OFFSET, 320 * 2 ** 20)).toBe(aBefore);
  });

  it('6: a slot partition too small fails with NO_SPACE before any write; a read-only data partition fails clearly and activates nothing', async () => {
    const c = newCase(build, work, 'full-ro');
    cases.push(c);
    const tinyBefore = regionHash(c.disk, build.layout.TINY_OFFSET, 16 * 2 ** 20);
    setScenario(c, ['apply-tiny next', 'data-ro apply']);
    const vm = new Vm(c);
    await vm.waitExit(BOOTS);
    const ev = vm.events();
    expect(jsonOf(ev, 'apply', 0).error?.code, ev.join('\n')).toBe('NO_SPACE');
    expect(ev).toContain('data partition read-only');
    const ro = jsonOf(ev, 'apply', 1);
    expect(ro.ok).toBe(false);
    expect(ro.error?.message).toMatch(/read-only/i);
    expect(regionHash(c.disk, build.layout.TINY_OFFSET, 16 * 2 ** 20)).toBe(tinyBefore); // never formatted
    expect(grubenv(c)).toMatchObject({ ORDER: 'A B', A_OK: '1', B_OK: '0' });
    const st = readState(c);
    expect(st.slots.B.status).toBe('empty');
    expect(st.slots.A.status).toBe('good');
  });
});
