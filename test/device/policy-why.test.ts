/**
 * The device policy's refusals (expired, wrong device, downgrade, already installed, a
 * missing intermediate release, not yet rolled out) carry their reason as data, so the
 * terminal UI can say them in the technician's language; signature refusals do not.
 */
import { describe, expect, it } from 'vitest';
import type { MediaVerifyRequest } from '../../src/device/context.js';
import { certWhy, policyWhy } from '../../src/device/media-candidates.js';
import { emptyState } from '../../src/device/state.js';
import type { UpdateManifest } from '../../src/trust/types.js';
import { reasonText, stringsFor } from '../../tui/strings.js';

const m: UpdateManifest = {
  schema: 'ferry.update/v1',
  id: 'kiosk-0.9.0',
  created: '2026-11-01T00:00:00Z',
  expires: '2026-11-20T12:00:00Z',
  target: { name: 'kiosk', compatible: ['acme,kiosk-v1'], version: '0.9.0', counter: 90 },
  rollout: { notBefore: '2027-01-01T00:00:00Z' },
  image: { ref: 'kiosk-0.9.0', manifest: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${'a'.repeat(64)}`, size: 400 }, platform: { os: 'linux', architecture: 'amd64' }, payloadBytes: 1000 },
};

function request(): MediaVerifyRequest {
  const state = emptyState();
  state.slots.A = { status: 'good', target: 'kiosk', version: '1.0.0', counter: 100 };
  return { mediaRoot: '/x', trustDir: '/t', state, requiredSigners: 1, compatible: 'acme,kiosk-v2', allowSameVersion: false, booted: 'A', clock: new Date('2026-12-01T00:00:00Z') };
}

describe('policyWhy', () => {
  it('gives each policy refusal its reason and values', () => {
    const req = request();
    const floor = { kiosk: '1.0.0' };
    expect(policyWhy('MANIFEST_EXPIRED', m, req, floor)).toEqual({ key: 'expired', vars: { id: 'kiosk-0.9.0', at: '2026-11-20T12:00:00Z' } });
    expect(policyWhy('INCOMPATIBLE_DEVICE', m, req, floor)).toEqual({ key: 'incompatible', vars: { builtFor: 'acme,kiosk-v1', device: 'acme,kiosk-v2' } });
    expect(policyWhy('DOWNGRADE_REFUSED', m, req, floor)).toEqual({ key: 'olderThanFloor', vars: { v: '0.9.0', had: '1.0.0' } });
    expect(policyWhy('DOWNGRADE_REFUSED', m, req, {})).toEqual({ key: 'olderThanFloor', vars: { v: '0.9.0' } });
    expect(policyWhy('ALREADY_INSTALLED', m, req, floor)).toEqual({ key: 'alreadyInstalled', vars: { v: '0.9.0' } });
    expect(policyWhy('REQUIREMENT_NOT_MET', m, req, floor)).toEqual({ key: 'needsIntermediate', vars: { v: '0.9.0', running: '1.0.0' } });
    expect(policyWhy('NOT_YET_ROLLED_OUT', m, req, floor)).toEqual({ key: 'notYetRolledOut', vars: { at: '2027-01-01T00:00:00Z' } });
  });

  it('gives a certificate refusal its subject and the instant that decided', () => {
    const subject = 'CN=ferry signer 2026,O=ACME';
    expect(certWhy('CERT_EXPIRED', { subject, notAfter: '2026-11-01T00:00:00.000Z', checkedAt: 'x' })).toEqual({ key: 'certExpired', vars: { subject, at: '2026-11-01T00:00:00.000Z' } });
    expect(certWhy('CERT_NOT_YET_VALID', { subject, notBefore: '2027-01-01T00:00:00.000Z' })).toEqual({ key: 'certNotYetValid', vars: { subject, at: '2027-01-01T00:00:00.000Z' } });
    expect(certWhy('CERT_REVOKED', { subject, serial: '0a', revokedAt: '2026-10-01T00:00:00.000Z' })).toEqual({ key: 'certRevoked', vars: { subject, at: '2026-10-01T00:00:00.000Z' } });
    expect(certWhy('UNTRUSTED_SIGNER', { subject })).toBeUndefined();
    expect(certWhy('CERT_EXPIRED', undefined)).toBeUndefined();
  });

  it('has none for a signature or chain refusal, or without a signed manifest', () => {
    expect(policyWhy('UNTRUSTED_SIGNER', m, request(), {})).toBeUndefined();
    expect(policyWhy('MANIFEST_EXPIRED', undefined, request(), {})).toBeUndefined();
  });

  it('is said in each language from the catalogue', () => {
    const w = policyWhy('MANIFEST_EXPIRED', m, request(), {})!;
    expect(reasonText(stringsFor('en'), w)).toBe('update kiosk-0.9.0 expired on 2026-11-20 12:00Z');
    expect(reasonText(stringsFor('de'), w)).toBe('Update kiosk-0.9.0 ist am 2026-11-20 12:00Z abgelaufen');
  });
});
