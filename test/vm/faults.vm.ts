/**
 * Scenarios 6 and 5 of the virtual kiosk, on one boot of a fresh device (the line
 * `apply-tiny data-ro apply-stop env data-rw apply-retry`): a slot partition too small for
 * the image (NO_SPACE before any write), the data partition read-only (a clear error,
 * nothing activated), then the USB stick pulled mid-apply through QMP (device_del: a typed
 * error, the target stays bad, the running slot untouched) and plugged back (device_add:
 * the apply completes).
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { readBuild } from './build.js';
import { type Case, dropCase, grubenv, type KioskBuild, newCase, readState, setScenario, stickReceipts, Vm, stopAll } from './kiosk.js';

let build: KioskBuild;
let work: string;
beforeAll(() => {
  build = readBuild(inject('kioskDir'));
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-vm-helper-faults-'));
});
afterAll(async () => {
  await stopAll();
  fs.rmSync(work, { recursive: true, force: true });
});

const BOOT = 15 * 60_000;
const MiB = 2 ** 20;

/** sha256 of `len` bytes of the disk image at `offset` (a partition, read on the host). */
function regionHash(disk: string, offset: number, len: number): string {
  return execFileSync('sh', ['-c', `dd if="$0" bs=1M skip=${offset / MiB} count=${len / MiB} status=none | sha256sum`, disk], { encoding: 'utf8' }).split(' ')[0]!;
}

/** The JSON ferry printed for the `n`-th run named `what`. */
function jsonOf(events: string[], what: string, n: number): { ok?: boolean; error?: { code: string; message: string } } {
  const lines = events.filter((e) => e.startsWith(`${what} json `));
  expect(lines.length, events.join('\n')).toBeGreaterThan(n);
  return JSON.parse(lines[n]!.slice(`${what} json `.length));
}

describe('virtual kiosk, faults (one boot)', () => {
  let c: Case;
  let vm: Vm;
  let aBefore: string;
  let tinyBefore: string;
  afterAll(async () => {
    if (vm) await vm.kill();
    if (c) await dropCase(c);
  });

  it('6: a slot partition too small fails with NO_SPACE before any write; a read-only data partition fails clearly and activates nothing', async () => {
    c = newCase(build, work, 'faults');
    aBefore = regionHash(c.disk, build.layout.SLOT_A_OFFSET, 320 * MiB);
    tinyBefore = regionHash(c.disk, build.layout.TINY_OFFSET, 16 * MiB);
    setScenario(c, ['apply-tiny data-ro apply-stop env data-rw apply-retry']);
    vm = new Vm(c);
    const env = await vm.waitFor(/^state /, BOOT);
    const ev = vm.events();
    const tiny = jsonOf(ev, 'apply', 0);
    expect(tiny.error?.code, ev.join('\n')).toBe('NO_SPACE');
    const tinyRun = ev.slice(ev.indexOf('apply start'), ev.findIndex((e) => e.startsWith('apply exit ')));
    expect(tinyRun.filter((e) => /^apply progress .*"step":"(write|format)"/.test(e)), 'NO_SPACE comes before any write').toEqual([]);
    expect(ev).toContain('data partition read-only');
    const ro = jsonOf(ev, 'apply', 1);
    expect(ro.ok).toBe(false);
    expect(ro.error?.code).toMatch(/^[A-Z][A-Z_]+$/);
    expect(ro.error?.message).toMatch(/read-only/i);
    // nothing activated: the grubenv and the state as they were on disk right after
    const grub = ev[env.index - 1]!;
    expect(grub).toMatch(/^grubenv .*ORDER=A B /);
    expect(grub).toMatch(/ B_OK=0 /);
    const st = JSON.parse(env.line.slice('state '.length)) as { slots: Record<string, { status: string }> };
    expect(st.slots.B!.status).toBe('empty');
    expect(st.slots.A!.status).toBe('good');
  });

  it('5: the stick pulled mid-apply gives a typed error, B stays bad, A untouched; plugged back, the apply completes', async () => {
    const rw = await vm.waitFor(/^data partition read-write$/, BOOT);
    // pull the stick once ferry has streamed a few MiB of the 53 MB image into slot B
    const writing = await vm.waitFor(/^apply progress .*"step":"write","bytesDone":[1-9]\d{6,},/, BOOT, rw.index);
    expect(await vm.qmp('device_del', { id: 'stick' })).toMatchObject({ return: {} });
    const back = await vm.waitFor(/^waiting for the stick to be plugged back$/, BOOT, writing.index);
    const failed = jsonOf(vm.events().slice(rw.index), 'apply', 0);
    expect(failed.ok, vm.tail()).toBe(false);
    expect(failed.error?.code).toMatch(/^[A-Z][A-Z_]+$/);
    expect(await vm.qmp('device_add', { driver: 'usb-storage', bus: 'xhci.0', drive: 'stickimg', id: 'stick', removable: true })).toMatchObject({ return: {} });
    await vm.waitExit(BOOT);
    const ev = vm.events().slice(back.index);
    expect(ev.filter((e) => /^apply exit /.test(e)), ev.join('\n')).toEqual(['apply exit 0']);
    expect(regionHash(c.disk, build.layout.TINY_OFFSET, 16 * MiB), 'the tiny partition was never formatted').toBe(tinyBefore);
    expect(readState(c).slots.B).toMatchObject({ status: 'pending', version: '1.1.0' });
    expect(grubenv(c)).toMatchObject({ ORDER: 'B A', B_OK: '1', A_OK: '1' });
    // the failed attempt left B bad: its receipt waited in the state and reached the stick with the retry
    const failure = stickReceipts(c).filter((r) => r.action === 'apply' && r.result === 'failure') as Array<{ error?: { code: string }; after?: { B: { status: string } } }>;
    expect(failure.map((r) => r.error?.code)).toContain(failed.error?.code);
    expect(failure.find((r) => r.error?.code === failed.error?.code)?.after?.B.status).toBe('bad');
    expect(regionHash(c.disk, build.layout.SLOT_A_OFFSET, 320 * MiB), 'slot A is never written').toBe(aBefore);
  });
});
