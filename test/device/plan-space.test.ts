import { describe, expect, it } from 'vitest';
import { type PlanInputs, planInstall } from '../../src/device/plan.js';
import { createSlot } from '../../src/device/slots/registry.js';
import type { ImageSize } from '../../src/device/types.js';
import type { UpdateManifest } from '../../src/trust/types.js';
import { planInputs, planManifest, verified } from '../helpers/plan.js';

const manifest = (payloadBytes: number, unpackedBytes?: number) => planManifest('1.1.0', 11, {}, payloadBytes, unpackedBytes);
const inputs = (m: UpdateManifest, patch: Partial<PlanInputs>) => planInputs([verified(m)], { targetAvailableBytes: 1000, ...patch });

const dirSlot = createSlot('B', { type: 'dir', path: '/b' }, { stateDir: '/state' });
const bootcSlot = createSlot('B', { type: 'bootc' }, { stateDir: '/state' });
const asks = (s: typeof dirSlot) => ({ targetRequiredBytes: (i: ImageSize) => s.requiredBytes!(i) });

describe('the planner checks space with the measure the target slot names', () => {
  it('a dir slot needs the unpacked size: refused with NO_SPACE although the compressed payload fits, in one line with both numbers and the fix', () => {
    const r = planInstall(inputs(manifest(400, 2500), asks(dirSlot)));
    expect(r).toMatchObject({ kind: 'nothing', code: 'NO_SPACE' });
    if (r.kind !== 'nothing') return;
    expect(r.message).toBe('slot B has 1000 bytes free but kiosk-1.1.0 needs 2500 (unpacked size): use a larger slot or free space on it');
  });

  it('says which measure it used, falling back to the payload when the manifest has no unpacked size', () => {
    const r = planInstall(inputs(manifest(400, 900), asks(dirSlot)));
    expect(r).toMatchObject({ kind: 'install', plan: { payloadBytes: 400, space: { neededBytes: 900, measure: 'unpacked', availableBytes: 1000, ok: true } } });
    const old = planInstall(inputs(manifest(400), asks(dirSlot)));
    expect(old).toMatchObject({ kind: 'install', plan: { space: { neededBytes: 400, measure: 'payload', ok: true } } });
    const tooBig = planInstall(inputs(manifest(1400), asks(dirSlot)));
    expect(tooBig).toMatchObject({ kind: 'nothing', code: 'NO_SPACE', message: expect.stringContaining('needs 1400 (compressed payload size)') });
  });

  it('a bootc slot copies blobs, so the compressed payload is its measure even when the unpacked size is known', () => {
    expect(bootcSlot.type).toBe('bootc');
    const r = planInstall(inputs(manifest(400, 2500), asks(bootcSlot)));
    expect(r).toMatchObject({ kind: 'install', plan: { space: { neededBytes: 400, measure: 'payload', ok: true } } });
  });
});
