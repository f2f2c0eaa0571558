/**
 * Test fixtures for the pure planner: a device config, signed-update manifests and
 * planner inputs with slot A running kiosk 1.0.0 (counter 10, the floor) and B the target.
 */
import { parseDeviceConfig } from '../../src/device/config.js';
import type { PlanInputs, UpdateCandidate } from '../../src/device/plan.js';
import { emptyState } from '../../src/device/state.js';
import type { UpdateManifest } from '../../src/trust/types.js';

/** A dir/dir device with a file bootloader, compatible acme,kiosk-v2; no free-space reserve (the space tests set their own). */
export const planConfig = parseDeviceConfig(
  { compatible: 'acme,kiosk-v2', deviceId: 'k1', slots: { A: { type: 'dir', path: '/a' }, B: { type: 'dir', path: '/b' } }, bootloader: { type: 'file', path: '/boot.json' }, policy: { reserveBytes: 0 } },
  { slots: ['dir'], bootloaders: ['file'] },
);

/** The verified manifest of kiosk-<version>. */
export function planManifest(version: string, counter: number, extra: Partial<UpdateManifest['target']> = {}, payloadBytes = 1000, unpackedBytes?: number): UpdateManifest {
  return {
    schema: 'ferry.update/v1',
    id: `kiosk-${version}`,
    created: '2026-11-01T00:00:00Z',
    expires: '2027-11-01T00:00:00Z',
    target: { name: 'kiosk', compatible: ['acme,kiosk-v2'], version, counter, ...extra },
    image: {
      ref: `kiosk-${version}`,
      manifest: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: 'sha256:' + String(counter).padStart(64, '0'), size: 500 },
      platform: { os: 'linux', architecture: 'amd64' },
      payloadBytes,
      ...(unpackedBytes !== undefined ? { unpackedBytes } : {}),
    },
  };
}

/** A candidate that verified. */
export const verified = (m: UpdateManifest): UpdateCandidate => ({ id: m.id, manifest: m, signers: ['CN=ferry signer'] });

/** Planner inputs: A booted and good (kiosk 1.0.0, counter 10 = floor), B empty; 1 MiB free unless patched. */
export function planInputs(candidates: UpdateCandidate[], patch: Partial<PlanInputs> = {}): PlanInputs {
  const state = emptyState();
  state.slots.A = { status: 'good', target: 'kiosk', version: '1.0.0', counter: 10, updateId: 'kiosk-1.0.0' };
  state.counterFloor.kiosk = 10;
  return { candidates, config: planConfig, state, bootState: { order: ['A', 'B'], slots: { A: { good: true, attemptsLeft: 3 }, B: { good: false, attemptsLeft: 0 } } }, booted: 'A', now: new Date('2026-11-20T00:00:00Z'), targetAvailableBytes: 1 << 20, ...patch };
}
