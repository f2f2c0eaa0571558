import { describe, expect, it } from 'vitest';
import { planInstall } from '../../src/device/plan.js';
import { planConfig as config, planInputs as inputs, planManifest as manifest, verified as ok } from '../helpers/plan.js';

describe('planInstall', () => {
  it('refuses to install while the bootloader would not boot the running slot: a failed update would have nothing to fall back to', () => {
    const bootState = { order: ['A', 'B'] as ('A' | 'B')[], slots: { A: { good: false, attemptsLeft: 0 }, B: { good: false, attemptsLeft: 0 } } };
    const r = planInstall(inputs([ok(manifest('1.1.0', 11))], { bootState }));
    expect(r).toMatchObject({ kind: 'nothing', code: 'SLOT_BUSY', message: expect.stringMatching(/mark-good/) });
  });

  it('chooses the compatible update with the newest counter, targeting the other slot', () => {
    const r = planInstall(inputs([ok(manifest('1.1.0', 11)), ok(manifest('1.2.0', 12))]));
    expect(r.kind).toBe('install');
    if (r.kind !== 'install') return;
    expect(r.plan).toMatchObject({ target: 'B', booted: 'A', payloadBytes: 1000, bootloader: { setPrimary: 'B', attempts: 3 }, space: { ok: true } });
    expect(r.plan.update.id).toBe('kiosk-1.2.0');
    expect(r.skipped).toEqual([{ id: 'kiosk-1.1.0', code: 'NO_APPLICABLE_UPDATE', message: expect.stringContaining('older than kiosk-1.2.0'), why: { key: 'olderThanChosen', vars: { chosen: 'kiosk-1.2.0' } } }]);
  });

  it('explains every skipped update: incompatible, downgrade, already installed, not rolled out, unverified', () => {
    const r = planInstall(
      inputs([
        ok(manifest('0.9.0', 9)),
        ok(manifest('1.0.0', 10)),
        ok(manifest('2.0.0', 20, { compatible: ['acme,kiosk-v1'] })),
        { id: 'kiosk-3.0.0', refusal: { code: 'SIGNATURE_INVALID', message: 'signature does not match' } },
        { ...ok(manifest('1.5.0', 15)), manifest: { ...manifest('1.5.0', 15), rollout: { notBefore: '2027-01-01T00:00:00Z' } } },
      ]),
    );
    expect(r.kind).toBe('nothing');
    if (r.kind !== 'nothing') return;
    expect(r.skipped.map((s) => [s.id, s.code])).toEqual([
      ['kiosk-0.9.0', 'DOWNGRADE_REFUSED'],
      ['kiosk-1.0.0', 'ALREADY_INSTALLED'],
      ['kiosk-2.0.0', 'INCOMPATIBLE_DEVICE'],
      ['kiosk-3.0.0', 'SIGNATURE_INVALID'],
      ['kiosk-1.5.0', 'NOT_YET_ROLLED_OUT'],
    ]);
    // A security refusal outranks "not applicable" for the exit code.
    expect(r.code).toBe('SIGNATURE_INVALID');
  });

  it('reports a lone downgrade as DOWNGRADE_REFUSED and honours --update', () => {
    const r = planInstall(inputs([ok(manifest('0.9.0', 9))]));
    expect(r).toMatchObject({ kind: 'nothing', code: 'DOWNGRADE_REFUSED' });
    const pick = planInstall(inputs([ok(manifest('1.1.0', 11)), ok(manifest('1.2.0', 12))], { requestedId: 'kiosk-1.1.0' }));
    expect(pick.kind === 'install' && pick.plan.update.id).toBe('kiosk-1.1.0');
    expect(planInstall(inputs([ok(manifest('1.1.0', 11))], { requestedId: 'kiosk-9' }))).toMatchObject({ kind: 'nothing', code: 'NO_APPLICABLE_UPDATE', message: expect.stringContaining('it has: kiosk-1.1.0') });
  });

  it('allows reinstalling the running release only with allowSameVersion', () => {
    const same = inputs([ok(manifest('1.0.0', 10))]);
    expect(planInstall(same).kind).toBe('nothing');
    expect(planInstall({ ...same, config: { ...config, policy: { ...config.policy, allowSameVersion: true } } }).kind).toBe('install');
  });

  it('refuses when the target slot is too small, before anything is written', () => {
    expect(planInstall(inputs([ok(manifest('1.1.0', 11, {}, 5000))], { targetAvailableBytes: 4999 }))).toMatchObject({ kind: 'nothing', code: 'NO_SPACE' });
  });

  it('refuses to overwrite the fallback while the running slot is still pending', () => {
    const inp = inputs([ok(manifest('1.1.0', 11))]);
    inp.state.slots.A.status = 'pending';
    expect(planInstall(inp)).toMatchObject({ kind: 'nothing', code: 'UPDATE_PENDING', message: expect.stringContaining('pending update') });
  });

  it('refuses to install while running a slot that is marked bad', () => {
    const inp = inputs([ok(manifest('1.1.0', 11))]);
    inp.state.slots.A.status = 'bad';
    expect(planInstall(inp)).toMatchObject({ kind: 'nothing', code: 'UPDATE_PENDING', message: expect.stringContaining('marked bad') });
  });

  it('reinstalls a pending update whose bootloader switch never happened, but not one waiting for its reboot', () => {
    const inp = inputs([ok(manifest('1.1.0', 11))]);
    inp.state.slots.B = { status: 'pending', updateId: 'kiosk-1.1.0', target: 'kiosk', counter: 11 };
    expect(planInstall(inp).kind).toBe('install');
    inp.bootState = { order: ['B', 'A'], slots: { A: { good: true, attemptsLeft: 3 }, B: { good: true, attemptsLeft: 3 } } };
    expect(planInstall(inp)).toMatchObject({ kind: 'nothing', code: 'ALREADY_INSTALLED' });
  });

  it('checks requires.minCounter against the running release', () => {
    expect(planInstall(inputs([ok(manifest('2.0.0', 20, { requires: { minCounter: 12 } }))]))).toMatchObject({ kind: 'nothing', code: 'REQUIREMENT_NOT_MET' });
  });

  it('names versions, not counters, when it refuses a downgrade or a missing requirement; the counters stay in details', () => {
    const skipOf = (r: ReturnType<typeof planInstall>) => (r.kind === 'nothing' ? r.skipped[0] : undefined);
    expect(skipOf(planInstall(inputs([ok(manifest('0.9.0', 9))])))).toEqual({
      id: 'kiosk-0.9.0', code: 'DOWNGRADE_REFUSED', message: 'version 0.9.0 is older than version 1.0.0 this device already ran (anti-rollback)', details: { counter: 9, floor: 10 },
      why: { key: 'olderThanFloor', vars: { v: '0.9.0', had: '1.0.0' } },
    });
    const unknownFloor = inputs([ok(manifest('1.2.0', 12))]);
    unknownFloor.state.counterFloor.kiosk = 15; // set by a release no slot records any more
    expect(skipOf(planInstall(unknownFloor))).toMatchObject({ message: 'version 1.2.0 is older than a release this device already ran (anti-rollback)', why: { key: 'olderThanFloor', vars: { v: '1.2.0' } } });
    const noFloor = inputs([ok(manifest('0.9.0', 9))]);
    delete noFloor.state.counterFloor.kiosk;
    expect(skipOf(planInstall(noFloor))).toMatchObject({ message: 'version 0.9.0 is older than the running version 1.0.0', details: { counter: 9, runningCounter: 10 } });
    const replaced = inputs([ok(manifest('0.5.0', 10, { name: 'kiosk2', replaces: ['kiosk'] }))]);
    expect(skipOf(planInstall(replaced))?.message).toBe('kiosk2 0.5.0 is not newer than kiosk 1.0.0, which this device already ran and which it replaces (anti-rollback)');
    expect(skipOf(planInstall(inputs([ok(manifest('2.0.0', 20, { requires: { minCounter: 12 } }))])))).toEqual({
      id: 'kiosk-2.0.0', code: 'REQUIREMENT_NOT_MET', message: 'version 2.0.0 needs a newer release running first (running: kiosk 1.0.0): install the intermediate release first', details: { minCounter: 12, runningCounter: 10 },
      why: { key: 'needsIntermediate', vars: { v: '2.0.0', running: '1.0.0' } },
    });
    for (const r of [planInstall(inputs([ok(manifest('0.9.0', 9))])), planInstall(noFloor), planInstall(replaced)]) expect(skipOf(r)?.message).not.toMatch(/counter|(?<![.\d])(9|10|15)(?![.\d])/);
  });
});
