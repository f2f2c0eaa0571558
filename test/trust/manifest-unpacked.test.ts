import { describe, expect, it } from 'vitest';
import { isFerryError } from '../../src/errors.js';
import { validateUpdateManifest } from '../../src/trust/manifest.js';
import { manifestObject } from './helpers.js';

function withUnpacked(v: unknown): Record<string, unknown> {
  const m = manifestObject() as unknown as Record<string, unknown>;
  m.image = { ...(m.image as object), unpackedBytes: v };
  return m;
}

function problems(m: unknown): string[] {
  try {
    validateUpdateManifest(m);
  } catch (e) {
    if (isFerryError(e, 'MANIFEST_INVALID')) return (e.details as { problems: string[] }).problems;
    throw e;
  }
  return [];
}

describe('image.unpackedBytes in the update manifest is optional, and a non-negative integer when present', () => {
  it('accepts it present and valid, and accepts it absent (older exports)', () => {
    expect(validateUpdateManifest(withUnpacked(123_456_789)).image.unpackedBytes).toBe(123_456_789);
    expect(validateUpdateManifest(withUnpacked(0)).image.unpackedBytes).toBe(0);
    const absent = manifestObject() as unknown as { image: Record<string, unknown> };
    delete absent.image.unpackedBytes;
    expect(validateUpdateManifest(absent).image.unpackedBytes).toBeUndefined();
  });

  it.each([[-1], [1.5], ['1000'], [null], [2 ** 53]])('lists %j among the bad fields', (v) => {
    expect(problems(withUnpacked(v))).toEqual(['image.unpackedBytes is not a non-negative integer']);
  });
});
