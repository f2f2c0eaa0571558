/**
 * The device config's "media" section: a site registry repository and how to reach it;
 * every bad field named in one CONFIG_INVALID through parseDeviceConfig.
 */
import { describe, expect, it } from 'vitest';
import { parseMediaConfig, mediaRegistryOptions } from '../../src/device/media-config.js';

function parse(v: unknown): { cfg: ReturnType<typeof parseMediaConfig>; bad: string[] } {
  const bad: string[] = [];
  return { cfg: parseMediaConfig(v, bad), bad };
}

describe('parseMediaConfig', () => {
  it('is sticks only when absent, TLS verified by default', () => {
    expect(parse(undefined)).toEqual({ cfg: { tlsVerify: true }, bad: [] });
  });

  it('reads a registry repository and how to reach it', () => {
    const { cfg, bad } = parse({ registry: 'docker://site-registry:5000/ferry/kiosk', tlsVerify: false, certDir: '/etc/ferry/registry-certs', authfile: '/etc/ferry/auth.json' });
    expect(bad).toEqual([]);
    expect(cfg).toEqual({ registry: 'docker://site-registry:5000/ferry/kiosk', tlsVerify: false, certDir: '/etc/ferry/registry-certs', authfile: '/etc/ferry/auth.json' });
    expect(mediaRegistryOptions(cfg)).toEqual({ tlsVerify: false, certDir: '/etc/ferry/registry-certs', authfile: '/etc/ferry/auth.json' });
  });

  it('lists every bad field: not docker://, a tag, a relative path, a non-boolean, an unknown key', () => {
    expect(parse({ registry: '/media/stick' }).bad).toEqual(['"media.registry" must be docker://HOST[:PORT]/PREFIX/TARGET']);
    expect(parse({ registry: 'docker://site:5000/ferry/kiosk:1.0.0' }).bad[0]).toMatch(/not a repository/);
    expect(parse({ registry: 'docker://site:5000/ferry/kiosk@sha256:' + '0'.repeat(64) }).bad[0]).toMatch(/not a repository/);
    expect(parse({ registry: 'docker://site:5000/Bad Name' }).bad[0]).toMatch(/not a repository/);
    expect(parse({ certDir: 'certs', authfile: 3, tlsVerify: 'no', mirror: 'x' }).bad).toEqual([
      'unknown field "media.mirror"',
      '"media.tlsVerify" must be true or false',
      '"media.certDir" must be an absolute path',
      '"media.authfile" must be an absolute path',
    ]);
    expect(parse('docker://x/y').bad[0]).toMatch(/must be an object/);
  });
});
