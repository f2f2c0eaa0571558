/** Parsing docker:// references (pure). */
import { describe, expect, it } from 'vitest';
import { parseInputName } from '../../../src/oci/input-name.js';
import { formatRegistryRef, parseRegistryRef } from '../../../src/oci/registry/reference.js';

const D = `sha256:${'a'.repeat(64)}`;

describe('docker:// references', () => {
  it('reads host, port, repository, tag and digest; no tag means latest', () => {
    expect(parseRegistryRef('127.0.0.1:5000/kiosk:1.1.0')).toEqual({ host: '127.0.0.1:5000', endpoint: '127.0.0.1:5000', repository: 'kiosk', tag: '1.1.0', reference: '1.1.0' });
    expect(parseRegistryRef(`reg.example/team/os/kiosk@${D}`)).toEqual({ host: 'reg.example', endpoint: 'reg.example', repository: 'team/os/kiosk', digest: D, reference: D });
    expect(parseRegistryRef('localhost:5000/kiosk')).toMatchObject({ tag: 'latest', reference: 'latest' });
    expect(parseRegistryRef(`reg.example/kiosk:1.0@${D}`)).toMatchObject({ tag: '1.0', digest: D, reference: D });
  });

  it('maps docker.io to its endpoint and official images to library/', () => {
    expect(parseRegistryRef('docker.io/busybox:1')).toMatchObject({ host: 'docker.io', endpoint: 'registry-1.docker.io', repository: 'library/busybox' });
    expect(parseRegistryRef('docker.io/acme/kiosk:1')).toMatchObject({ repository: 'acme/kiosk' });
  });

  it('refuses names without a host or with invalid parts (BAD_INPUT_NAME)', () => {
    for (const bad of ['kiosk', '/kiosk:1', 'reg.example/Kiosk:1', 'reg.example/kiosk:bad tag', 'reg.example/kiosk@sha256:12', 'reg.example/', 'reg.example/a//b', 'bad_host/kiosk']) {
      expect(() => parseRegistryRef(bad), bad).toThrow(expect.objectContaining({ code: 'BAD_INPUT_NAME' }));
    }
  });

  it('is an input transport: docker://HOST/REPO[:TAG]', () => {
    expect(parseInputName('docker://127.0.0.1:5000/kiosk:1.1.0')).toEqual({ transport: 'docker', path: '127.0.0.1:5000/kiosk:1.1.0' });
    for (const bad of ['docker:', 'docker:/x/y', 'docker://', 'docker://busybox']) expect(() => parseInputName(bad), bad).toThrow(expect.objectContaining({ code: 'BAD_INPUT_NAME' }));
    expect(formatRegistryRef(parseRegistryRef(`reg.example/kiosk@${D}`))).toBe(`docker://reg.example/kiosk@${D}`);
  });
});
