/**
 * Scenarios 1-3 of the virtual kiosk (docs/vm.md): real GRUB running samples/grub/grub.cfg,
 * the Debian kernel, ferry's single executable inside the guest, the stick on USB. Each
 * case is asserted from the serial console and from the disk image after power-off. One
 * boot serves several cases: 1-3 start from the `applied` snapshot (global-setup.ts: a fresh
 * device booted A, adopted it and applied the stick inside the guest), whose events case 1
 * asserts too; the ext4-stick case runs the whole of case 1 in one go, in-guest reboot included.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { type Case, dropCase, grubenv, type KioskBuild, newCase, readState, setScenario, stickReceipts, Vm, stopAll } from './kiosk.js';
import { readBuild } from './build.js';
import { grubBootChoice } from '../helpers/device.js';

let build: KioskBuild;
let work: string;
beforeAll(() => {
  build = readBuild(inject('kioskDir'));
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-vm-boot-'));
});
afterAll(async () => {
  await stopAll();
  fs.rmSync(work, { recursive: true, force: true });
});

const BOOTS = 25 * 60_000;

/** Boot once (the scenario lines drive every boot until the kiosk powers off); returns the events. */
async function runToPowerOff(c: Case, lines: string[]): Promise<string[]> {
  setScenario(c, lines);
  const vm = new Vm(c);
  await vm.waitExit(BOOTS);
  return vm.events();
}

/** The JSON ferry printed for the `n`-th event named `what` (apply, boot-check, status). */
function json(events: string[], what: string, n = 0): Record<string, unknown> {
  const lines = events.filter((e) => e.startsWith(`${what} json `));
  expect(lines.length, `${what} json #${n} in\n${events.join('\n')}`).toBeGreaterThan(n);
  return JSON.parse(lines[n]!.slice(`${what} json `.length));
}

function order(events: string[], expected: RegExp[]): void {
  let at = 0;
  for (const re of expected) {
    const i = events.findIndex((e, k) => k >= at && re.test(e));
    expect(i, `${re} after event ${at} in\n${events.join('\n')}`).toBeGreaterThanOrEqual(0);
    at = i + 1;
  }
}

describe(`virtual kiosk, ${process.env.FERRY_VM_FLAVOUR === 'uefi' ? 'UEFI' : 'BIOS'} GRUB`, () => {
  const cases: Case[] = [];
  afterAll(async () => {
    for (const c of cases) await dropCase(c);
  });
  const applied = (name: string) => {
    const c = newCase(build, work, name, { from: 'applied' });
    cases.push(c);
    return c;
  };

  it('1: a fresh device boots A, applies the stick inside the guest; GRUB boots B, boot-check commits, the receipts reach the stick', async () => {
    const first = (JSON.parse(fs.readFileSync(path.join(build.dir, 'applied.events.json'), 'utf8')) as Array<{ event: string }>).map((e) => e.event);
    order(first, [/^booted slot A version 1\.0\.0$/, /^boot-check exit 0$/, /^stick \/dev\/sd/, /^apply start$/, /^apply exit 0$/, /^power off$/]);
    expect(json(first, 'boot-check', 0)).toMatchObject({ booted: 'A', outcome: 'adopted' });
    expect(json(first, 'apply', 0)).toMatchObject({ ok: true, plan: { target: 'B', update: { id: 'kiosk-1.1.0' } } });
    const c = applied('fresh');
    const model = new Map(Object.entries(grubenv(c)));
    const ev = await runToPowerOff(c, ['apply']);
    expect(grubBootChoice(model), 'the TypeScript model of grub.cfg chooses as GRUB did').toBe('B');
    order(ev, [/^booted slot B version 1\.1\.0$/, /^boot-check exit 0$/, /^apply exit 4$/, /^power off$/]);
    expect(json(ev, 'boot-check', 0)).toMatchObject({ booted: 'B', outcome: 'committed' });
    expect(json(ev, 'apply', 0)).toMatchObject({ ok: false, error: { code: 'ALREADY_INSTALLED' } });
    // the disk after power-off
    expect(grubenv(c)).toMatchObject({ ORDER: 'B A', A_OK: '1', B_OK: '1', B_TRY: '0', FERRY_MAX_TRY: '2' });
    const st = readState(c);
    expect(st.slots.B).toMatchObject({ status: 'good', version: '1.1.0' });
    expect(st.slots.A.status).toBe('good');
    expect(st.pendingReceipts).toEqual([]);
    const receipts = stickReceipts(c);
    expect(receipts.map((r) => `${r.action}:${r.result}`)).toEqual(['boot-check:success', 'apply:success', 'boot-check:success', 'apply:nothing-to-do']);
    expect(receipts[1]!.version).toBe('1.1.0');
  });

  it('1 on an ext4 stick: apply inside the guest, in-guest reboot, GRUB boots B, commit, receipts on the ext4 stick', async () => {
    const c = newCase(build, work, 'ext4-stick', { stickFs: 'ext4' });
    cases.push(c);
    const ev = await runToPowerOff(c, ['apply', 'apply']);
    order(ev, [/^booted slot A version 1\.0\.0$/, /^boot-check exit 0$/, /^apply start$/, /^apply exit 0$/, /^reboot$/, /^booted slot B version 1\.1\.0$/, /^boot-check exit 0$/, /^apply exit 4$/, /^power off$/]);
    expect(json(ev, 'boot-check', 1)).toMatchObject({ booted: 'B', outcome: 'committed' });
    expect(grubenv(c)).toMatchObject({ ORDER: 'B A', A_OK: '1', B_OK: '1', B_TRY: '0' });
    expect(readState(c).slots.B).toMatchObject({ status: 'good', version: '1.1.0' });
    expect(stickReceipts(c).map((r) => `${r.action}:${r.result}`)).toEqual(['boot-check:success', 'apply:success', 'boot-check:success', 'apply:nothing-to-do']);
  });

  it('2: the update fails its health check: boot-check marks B bad and reboots, GRUB boots A, state and receipts say why', async () => {
    const c = applied('unhealthy');
    const ev = await runToPowerOff(c, ['health-fail', 'receipts']);
    order(ev, [/^booted slot B version 1\.1\.0$/, /^reboot requested by ferry$/, /^booted slot A version 1\.0\.0$/, /^status exit 0$/, /^power off$/]);
    expect(grubenv(c)).toMatchObject({ ORDER: 'A B', A_OK: '1', B_OK: '0' });
    const st = readState(c);
    expect(st.slots.A.status).toBe('good');
    expect(st.slots.B.status).toBe('bad');
    expect(st.slots.B.lastError).toMatchObject({ code: 'HEALTH_CHECK_FAILED' });
    const rolled = stickReceipts(c).filter((r) => r.action === 'boot-check' && r.result === 'rolled-back');
    expect(rolled).toHaveLength(1);
    expect(rolled[0]!.error).toMatchObject({ code: 'HEALTH_CHECK_FAILED' });
  });

  it('3: the update never reaches boot-check (its init panics): GRUB counts down both tries and boots A, boot-check on A records the failed update', async () => {
    const c = applied('panic');
    // the TypeScript model of grub.cfg (the unit tests' stand-in) must predict what GRUB does
    const model = new Map(Object.entries(grubenv(c)));
    const predicted = [grubBootChoice(model), grubBootChoice(model), grubBootChoice(model)];
    const ev = await runToPowerOff(c, ['panic', 'panic', 'receipts']);
    expect(ev.filter((e) => e.startsWith('booted slot')).map((e) => e.slice('booted slot '.length, 'booted slot '.length + 1)), 'GRUB chose as the TypeScript model predicts').toEqual(predicted);
    order(ev, [/^booted slot B version 1\.1\.0$/, /^init fails/, /^booted slot B version 1\.1\.0$/, /^init fails/, /^booted slot A version 1\.0\.0$/, /^boot-check exit/, /^status exit 0$/, /^power off$/]);
    expect(ev.filter((e) => e.startsWith('booted slot B'))).toHaveLength(2); // FERRY_MAX_TRY=2: exactly two tries
    expect(json(ev, 'boot-check', 0)).toMatchObject({ booted: 'A', outcome: 'fell-back' });
    const env = grubenv(c);
    expect(env).toMatchObject({ A_OK: '1', B_OK: '0' });
    expect(env.ORDER!.startsWith('A')).toBe(true);
    const st = readState(c);
    expect(st.slots.B.status).toBe('bad');
    expect(stickReceipts(c).some((r) => r.action === 'boot-check' && r.result === 'rolled-back')).toBe(true);
  });
});
