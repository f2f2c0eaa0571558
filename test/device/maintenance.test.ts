/**
 * The operator's controls tell the truth: a manual rollback is recorded as one (state,
 * receipt, the next boot-check), rollback goes only to a committed, good, older slot,
 * and committing a slot whose health check failed takes a deliberate --force that
 * names the floor it raises.
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { bootCheck, deviceDeps, markGood, rollback, rollbackOption, status } from '../../src/device/index.js';
import { emptyState, loadState, saveState } from '../../src/device/state.js';
import { makeDevice, simulateBoot, type TestDevice } from '../helpers/device.js';

let dev: TestDevice | undefined;
afterEach(async () => {
  await dev?.cleanup();
  dev = undefined;
});

type St = 'good' | 'bad' | 'pending' | 'empty';

/** A device booted from `booted`; A holds 1.0.0 (counter 100), B holds 1.1.0 (counter 110). */
async function device(a: St, b: St, booted: 'A' | 'B', extra: (s: ReturnType<typeof emptyState>) => void = () => undefined): Promise<TestDevice> {
  dev = await makeDevice({ kind: 'file' });
  const s = emptyState();
  s.slots.A = a === 'empty' ? { status: 'empty' } : { status: a, target: 'kiosk', version: '1.0.0', counter: 100 };
  s.slots.B = b === 'empty' ? { status: 'empty' } : { status: b, target: 'kiosk', version: '1.1.0', counter: 110 };
  s.counterFloor = { kiosk: 100 };
  extra(s);
  await saveState(dev.stateDir, s);
  const bootJson = { order: [booted, booted === 'A' ? 'B' : 'A'], slots: { A: { good: a !== 'bad', attemptsLeft: 3 }, B: { good: b !== 'bad' && b !== 'empty', attemptsLeft: 3 } } };
  await fsp.writeFile(dev.bootFile, JSON.stringify(bootJson));
  await dev.setBooted(booted);
  return dev;
}

describe('rollback by operator', () => {
  it('going back from a pending running slot is recorded as the operator\'s choice, not as a failed health check', async () => {
    const d = await device('good', 'pending', 'B');
    const stick = path.join(d.root, 'stick');
    await fsp.mkdir(path.join(stick, 'FERRY'), { recursive: true });
    const r = await rollback({ ...d.opts, mediaRoot: stick }, deviceDeps);
    expect(r.message).toMatch(/^rollback by operator from 1\.1\.0 \(slot B\) to 1\.0\.0 \(slot A\)/);
    expect(r.receipt).toMatchObject({ action: 'rollback', rollback: { by: 'operator', from: { slot: 'B', version: '1.1.0' }, to: { slot: 'A', version: '1.0.0' } } });
    expect(r.delivery.written).toHaveLength(1);
    const onStick = JSON.parse(await fsp.readFile(r.delivery.written[0]!, 'utf8'));
    expect(onStick.message).toContain('rollback by operator');
    let s = await loadState(d.stateDir);
    expect(s.rollback).toMatchObject({ by: 'operator', from: { slot: 'B', version: '1.1.0' }, to: { slot: 'A' } });
    expect(s.slots.B.status).toBe('bad');
    expect(await simulateBoot(d)).toBe('A');
    const bc = await bootCheck({ ...d.opts, noReboot: true }, deviceDeps);
    expect(bc.outcome).toBe('already-good');
    expect(bc.message).toMatch(/running after a rollback by operator at .* from 1\.1\.0 \(slot B\)/);
    s = await loadState(d.stateDir);
    expect(JSON.stringify(s)).not.toContain('HEALTH_CHECK_FAILED');
    const st = await status(d.opts, deviceDeps);
    expect(st.rollback?.from.version).toBe('1.1.0');
    expect(st.events.map((e) => e.action)).toEqual(['rollback', 'boot-check']);
    expect(st.events[0]!.deliveredTo).toBe(r.delivery.written[0]);
  });

  it('goes back from a committed newer slot to a committed older one, and not forward again', async () => {
    const d = await device('good', 'good', 'B');
    await rollback(d.opts, deviceDeps);
    expect(await simulateBoot(d)).toBe('A');
    expect((await loadState(d.stateDir)).slots.B.status).toBe('good');
    const opt = rollbackOption(await loadState(d.stateDir), 'A');
    expect(opt).toEqual({ ok: false, reason: 'slot B holds 1.1.0, newer than the running 1.0.0: that would not be a rollback', why: { key: 'rollbackNewer', vars: { slot: 'B', v: '1.1.0', running: '1.0.0' } } });
    await expect(rollback(d.opts, deviceDeps)).rejects.toMatchObject({ code: 'ROLLBACK_REFUSED', message: expect.stringContaining('newer than the running 1.0.0') });
  });

  it('offers no rollback to an empty slot or to a newer update waiting for its reboot, and says why', async () => {
    let d = await device('good', 'empty', 'A');
    expect(rollbackOption(await loadState(d.stateDir), 'A')).toMatchObject({ ok: false, reason: expect.stringContaining('slot B is empty') });
    await d.cleanup();
    d = await device('good', 'pending', 'A');
    await expect(rollback(d.opts, deviceDeps)).rejects.toMatchObject({ code: 'ROLLBACK_REFUSED', message: expect.stringContaining('installed and not yet tried') });
  });
});

describe('mark-good after a failed health check', () => {
  it('is refused without --force, naming the failure and the floor it raises; --force commits', async () => {
    const d = await device('good', 'pending', 'B', (s) => {
      s.slots.B.lastError = { code: 'HEALTH_CHECK_FAILED', message: 'health check failed: "check" exited 7: disk full', at: '2026-11-22T01:00:00.000Z' };
    });
    const before = await fsp.readFile(d.bootFile, 'utf8');
    await expect(markGood(d.opts, deviceDeps)).rejects.toMatchObject({
      code: 'CONFIRMATION_REQUIRED',
      message: expect.stringMatching(/failed its health check at 2026-11-22T01:00:00.000Z .*disk full.*after this, versions older than 1\.1\.0 can no longer be installed.*--force/),
    });
    expect(await fsp.readFile(d.bootFile, 'utf8')).toBe(before);
    expect((await loadState(d.stateDir)).counterFloor).toEqual({ kiosk: 100 });
    const st = await status(d.opts, deviceDeps);
    expect(st.attention).toMatch(/pending update: its health check FAILED/);
    expect(st.markGoodRisk.floor).toBe('after this, versions older than 1.1.0 can no longer be installed');
    const r = await markGood({ ...d.opts, force: true }, deviceDeps);
    expect(r.message).toContain('despite its failed health check');
    expect((await loadState(d.stateDir)).counterFloor).toEqual({ kiosk: 110 });
  });
});
