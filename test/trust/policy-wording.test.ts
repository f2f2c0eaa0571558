import { describe, expect, it } from 'vitest';
import { FerryError } from '../../src/errors.js';
import { checkUpdatePolicy } from '../../src/trust/verify.js';
import type { UpdateManifest, VerifyPolicy } from '../../src/trust/types.js';
import { planManifest } from '../helpers/plan.js';

const NOW = Date.parse('2026-11-20T00:00:00Z');

/** The FerryError checkUpdatePolicy throws for `m` under `p`. */
function refusal(m: UpdateManifest, p: VerifyPolicy): FerryError {
  try {
    checkUpdatePolicy(m, p, NOW);
  } catch (e) {
    return e as FerryError;
  }
  throw new Error('expected a refusal');
}

describe('checkUpdatePolicy wording', () => {
  it('names the versions of a downgrade, keeping the counters in details', () => {
    const e = refusal(planManifest('0.9.0', 9), { counterFloor: { kiosk: 10 }, floorVersion: { kiosk: '1.0.0' } });
    expect(e.code).toBe('DOWNGRADE_REFUSED');
    expect(e.message).toBe('update kiosk-0.9.0 (version 0.9.0) is older than version 1.0.0 this device already ran: downgrades are refused; bring a newer release');
    expect(e.details).toEqual({ counter: 9, floor: 10 });
  });
  it('says "a release" when the floor\'s version is not known, and never prints a counter', () => {
    const e = refusal(planManifest('0.9.0', 9), { counterFloor: { kiosk: 10 } });
    expect(e.message).toBe('update kiosk-0.9.0 (version 0.9.0) is older than a release this device already ran: downgrades are refused; bring a newer release');
  });
  it('names the version that needs an intermediate release', () => {
    const e = refusal(planManifest('2.0.0', 20, { requires: { minCounter: 12 } }), { installedCounter: { kiosk: 10 } });
    expect(e.code).toBe('REQUIREMENT_NOT_MET');
    expect(e.message).toBe('update kiosk-2.0.0 (version 2.0.0) needs a newer release installed than this device has: install the intermediate release first');
    expect(e.details).toEqual({ minCounter: 12, installedCounter: 10 });
  });
});
