import { describe, expect, it } from 'vitest';
import { isFerryError } from '../../src/errors.js';
import { checkTargetAndVersion, parseInputName } from '../../src/oci/input-name.js';

function code(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return isFerryError(e) ? e.code : 'not-ferry';
  }
  return undefined;
}

describe('parseInputName', () => {
  it('reads the four transports with and without a reference', () => {
    expect(parseInputName('oci:/a/b')).toEqual({ transport: 'oci', path: '/a/b' });
    expect(parseInputName('oci:/a/b:kiosk-1.0.0')).toEqual({ transport: 'oci', path: '/a/b', ref: 'kiosk-1.0.0' });
    expect(parseInputName('oci-archive:x.tar:v1')).toEqual({ transport: 'oci-archive', path: 'x.tar', ref: 'v1' });
    expect(parseInputName('docker-archive:s.tar:busybox:latest')).toEqual({ transport: 'docker-archive', path: 's.tar', ref: 'busybox:latest' });
    expect(parseInputName('docker-archive:s.tar:@1')).toEqual({ transport: 'docker-archive', path: 's.tar', ref: '@1' });
    expect(parseInputName('rootfs:/srv/root:with:colons')).toEqual({ transport: 'rootfs', path: '/srv/root:with:colons' });
  });

  it('refuses names without a known transport, path or reference with BAD_INPUT_NAME', () => {
    for (const bad of ['/just/a/path', 'docker://busybox', 'oci:', 'oci::ref', 'oci:/x:', 'rootfs:', 'docker-archive:x.tar:@one', 'oci:/x:a b']) {
      expect(code(() => parseInputName(bad)), bad).toBe('BAD_INPUT_NAME');
    }
  });
});

describe('checkTargetAndVersion', () => {
  it('accepts lower-case target names and semantic versions', () => {
    expect(() => checkTargetAndVersion('kiosk', '1.2.3')).not.toThrow();
    expect(() => checkTargetAndVersion('pos-2.eu_west', '1.0.0-rc.1+build.5')).not.toThrow();
  });

  it('refuses upper-case or path-like targets and non-semver versions', () => {
    for (const [t, v] of [['Kiosk', '1.0.0'], ['../x', '1.0.0'], ['-x', '1.0.0'], ['kiosk', '1.0'], ['kiosk', 'v1.0.0'], ['kiosk', '01.0.0']] as const) {
      expect(code(() => checkTargetAndVersion(t, v)), `${t} ${v}`).toBe('USAGE');
    }
  });
});
