import { describe, expect, it } from 'vitest';
import { FerryError } from '../../src/errors.js';
import { canonicalJson, counterFromVersion, validateUpdateManifest } from '../../src/trust/manifest.js';
import { manifestObject } from './helpers.js';

describe('counterFromVersion', () => {
  it('orders counters as semver orders versions, prereleases below their release', () => {
    const ordered = ['0.0.1', '0.1.0-alpha', '0.1.0-alpha.2', '0.1.0-beta.1', '0.1.0-rc.1', '0.1.0-rc.2999', '0.1.0', '0.1.1', '1.0.0', '1.9.9999', '2.0.0-rc1', '2.0.0', '9006.9999.9999'];
    const counters = ordered.map(counterFromVersion);
    for (let i = 1; i < counters.length; i++) expect(counters[i]!).toBeGreaterThan(counters[i - 1]!);
    expect(counterFromVersion('2.3.1')).toBe(2_0003_0001_9999);
    expect(counterFromVersion('2.3.1+build.7')).toBe(counterFromVersion('2.3.1'));
    expect(Number.isSafeInteger(counterFromVersion('9006.9999.9999'))).toBe(true);
  });

  it.each(['9007.0.0', '1.10000.0', '1.0.10000', '1.0', 'v1.0.0', '01.0.0', '1.0.0-preview', '1.0.0-rc.3000', '1.0.0-rc.1.2'])('refuses %s and asks for --counter', (v) => {
    expect(() => counterFromVersion(v)).toThrow(/--counter/);
  });
});

describe('canonicalJson', () => {
  it('sorts keys at every level and is stable', () => {
    const a = canonicalJson({ b: 1, a: { d: [{ z: 1, y: 2 }], c: 'x' } });
    expect(a).toBe('{\n  "a": {\n    "c": "x",\n    "d": [\n      {\n        "y": 2,\n        "z": 1\n      }\n    ]\n  },\n  "b": 1\n}\n');
    expect(canonicalJson(JSON.parse(a))).toBe(a);
  });
});

describe('validateUpdateManifest', () => {
  it('accepts a good manifest and extra optional fields', () => {
    expect(validateUpdateManifest({ ...manifestObject(), futureField: 1 }).id).toBe('kiosk-2.3.1');
  });

  it('refuses local times, expiry before creation, an empty compatible list and a path in the target name', () => {
    const m = manifestObject({ created: '2026-11-22T10:00:00+01:00', expires: '2020-01-01T00:00:00Z' }) as unknown as Record<string, unknown>;
    (m.target as Record<string, unknown>).compatible = [];
    (m.target as Record<string, unknown>).name = '../etc';
    try {
      validateUpdateManifest(m);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(FerryError);
      expect((e as FerryError).details.problems).toEqual(
        expect.arrayContaining(['created is not an RFC 3339 UTC time', 'target.compatible is not a non-empty list of strings', 'target.name is missing or invalid']),
      );
    }
  });

  it('accepts image.source (finding 8 of issue 11) and refuses a malformed one, field by field', () => {
    const withSource = (source: unknown) => {
      const m = manifestObject() as unknown as { image: Record<string, unknown> };
      m.image.source = source;
      return m;
    };
    const good = { transport: 'oci', manifest: `sha256:${'a'.repeat(64)}`, conversion: 'layers re-encoded (--compress zstd)' };
    expect(validateUpdateManifest(withSource(good)).image.source).toEqual(good);
    expect(validateUpdateManifest(withSource({ transport: 'docker-archive', imageId: `sha256:${'b'.repeat(64)}`, conversion: 'docker-archive converted to OCI media types' })).image.source?.imageId).toMatch(/^sha256:b/);
    try {
      validateUpdateManifest(withSource({ transport: 'Oci/../', manifest: 'md5:1', imageId: 7, conversion: '' }));
      expect.unreachable();
    } catch (e) {
      expect((e as FerryError).code).toBe('MANIFEST_INVALID');
      expect((e as FerryError).details.problems).toEqual([
        'image.source.transport is missing or invalid',
        'image.source.manifest is not a sha256 digest',
        'image.source.imageId is not a sha256 digest',
        'image.source.conversion is not a string of 1-256 characters',
      ]);
    }
    expect(() => validateUpdateManifest(withSource('oci'))).toThrow(/image.source is not an object/);
  });
});
