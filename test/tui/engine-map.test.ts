import { describe, expect, it } from 'vitest';
import type { DeviceConfig } from '../../src/device/config.js';
import type { InstallPlan } from '../../src/device/plan.js';
import { emptyState } from '../../src/device/state.js';
import type { DeviceStatus } from '../../src/device/status.js';
import type { UpdateManifest } from '../../src/trust/types.js';
import { signerName, toApplyOutcome, toDeviceInfo, toUpdateEntry } from '../../tui/engine-map.js';

const CONFIG = {
  compatible: 'acme,kiosk-v2',
  deviceId: 'kiosk-0042',
  stateDir: '/x',
  trustDir: '/x',
  slots: { A: { type: 'dir' }, B: { type: 'dir' } },
  bootloader: { type: 'file', attempts: 3 },
  healthCheck: undefined,
  policy: { requiredSigners: 1, allowSameVersion: false, verifyBeforeWrite: false },
  rebootCommand: 'true',
  bootedSlot: undefined,
} as DeviceConfig;

function manifest(version: string, counter: number, compatible = ['acme,kiosk-v2']): UpdateManifest {
  return {
    schema: 'ferry.update/v1',
    id: `kiosk-${version}`,
    created: '2026-11-01T00:00:00Z',
    expires: '2027-11-01T00:00:00Z',
    target: { name: 'kiosk', compatible, version, counter },
    image: { ref: `kiosk-${version}`, manifest: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${'a'.repeat(64)}`, size: 400 }, platform: { os: 'linux', architecture: 'amd64' }, payloadBytes: 5_000_000 },
    notes: 'notes',
  };
}

function inputs() {
  const state = emptyState();
  state.slots.A = { status: 'good', target: 'kiosk', version: '1.0.0', counter: 100 };
  state.counterFloor = { kiosk: 100 };
  return { candidates: [], config: CONFIG, state, bootState: { order: ['A', 'B'] as const, slots: { A: { good: true, attemptsLeft: 3 }, B: { good: false, attemptsLeft: 0 } } }, booted: 'A' as const, now: new Date('2026-11-22T00:00:00Z'), targetAvailableBytes: undefined };
}

describe('engine-map', () => {
  it('asks the same planner as `ferry device apply` why a verified update is not applicable', () => {
    const inp = { ...inputs(), bootState: { order: ['A', 'B'] as ('A' | 'B')[], slots: inputs().bootState.slots } };
    const newer = toUpdateEntry({ id: 'kiosk-1.1.0', manifest: manifest('1.1.0', 110), signers: ['CN=ferry signer,O=ACME'] }, inp);
    expect(newer.problem).toBeUndefined();
    expect(newer).toMatchObject({ version: '1.1.0', sizeBytes: 5_000_000, signer: 'ferry signer', counter: 110 });
    const older = toUpdateEntry({ id: 'kiosk-0.9.0', manifest: manifest('0.9.0', 90) }, inp);
    expect(older.problem?.code).toBe('DOWNGRADE_REFUSED');
    const tooBig = toUpdateEntry({ id: 'kiosk-1.1.0', manifest: manifest('1.1.0', 110) }, { ...inp, targetAvailableBytes: 1000 });
    expect(tooBig.problem?.code).toBe('NO_SPACE');
  });

  it('keeps the verifier refusal and shows unverified claims of a refused update only for orientation', () => {
    const inp = { ...inputs(), bootState: { order: ['A', 'B'] as ('A' | 'B')[], slots: inputs().bootState.slots } };
    const e = toUpdateEntry({ id: 'kiosk-2.0.0', refusal: { code: 'UNTRUSTED_SIGNER', message: 'no chain' } }, inp, manifest('2.0.0', 200));
    expect(e.problem).toEqual({ code: 'UNTRUSTED_SIGNER', message: 'no chain' });
    expect(e.version).toBe('2.0.0');
    expect(e.signer).toBeUndefined();
    const mismatched = toUpdateEntry({ id: 'kiosk-3.0.0', refusal: { code: 'MANIFEST_INVALID', message: 'renamed' } }, inp, manifest('2.0.0', 200));
    expect(mismatched.version).toBe('kiosk-3.0.0'); // claims of another id are not shown
  });

  it('maps the status report, including an unreadable bootloader', () => {
    const st: DeviceStatus = {
      deviceId: 'kiosk-0042', compatible: 'acme,kiosk-v2', configFile: '/etc/ferry/device.json', booted: 'A', bootedSource: 'cmdline',
      bootloader: { describe: 'grub /boot/grubenv', error: 'bad crc' },
      slots: { A: { status: 'good', version: '1.0.0', counter: 100, target: 'kiosk' }, B: { status: 'empty' } },
      counterFloor: { kiosk: 100 }, clock: '2026-11-22T00:00:00Z', clockBehindTrustedTime: false, pendingReceipts: 2,
      lastResult: { action: 'apply', result: 'cancelled', at: '2026-11-21T00:00:00Z', code: 'CANCELLED' },
      rollbackOption: { ok: false, reason: 'slot B is empty', why: { key: 'rollbackEmpty', vars: { slot: 'B' } } }, markGoodRisk: {}, floorVersions: { kiosk: '1.0.0' },
      events: [{ at: '2026-11-21T00:00:00Z', action: 'apply', result: 'cancelled', receipt: '20261121T000000.000Z' }],
    };
    const info = toDeviceInfo(st, new Set(['20261121T000000.000Z-apply']));
    expect(info.bootloader).toBe('grub /boot/grubenv');
    expect(info.bootloaderError).toBe('bad crc');
    expect(info.counterFloor).toBe(100);
    expect(info.floorVersion).toBe('1.0.0');
    expect(info.rollback).toMatchObject({ ok: false, why: { key: 'rollbackEmpty', vars: { slot: 'B' } } });
    expect(info.history).toEqual([{ at: '2026-11-21T00:00:00Z', action: 'apply', result: 'cancelled', ok: false, waiting: true }]);
    expect(info.lastResult).toMatchObject({ ok: false, code: 'CANCELLED' });
    expect(info.slots.map((s) => [s.name, s.booted])).toEqual([['A', true], ['B', false]]);
  });

  it('reports the receipt path only when every receipt reached the stick', () => {
    const plan = { update: manifest('1.1.0', 110), target: 'B', bootloader: { setPrimary: 'B', attempts: 3 } } as InstallPlan;
    expect(toApplyOutcome(plan, { written: ['/s/FERRY/receipts/d/x-apply.json'], kept: 0 })).toEqual({ slot: 'B', version: '1.1.0', attempts: 3, receiptPath: '/s/FERRY/receipts/d/x-apply.json' });
    expect(toApplyOutcome(plan, { written: [], kept: 1, error: 'EROFS: read-only file system', errorCode: 'READ_ONLY_MEDIA' }).receiptWait).toEqual({ kept: 1, code: 'READ_ONLY_MEDIA', detail: 'EROFS: read-only file system' });
    expect(signerName('CN=ferry signer 2026,O=ACME')).toBe('ferry signer 2026');
  });
});
