/**
 * `ferry export --image docker://…` through the built CLI, from a real registry with
 * htpasswd auth (credentials only from --authfile): the signed stick verifies with
 * `ferry verify --media --trust`, skopeo reads the image on it, and a device applies it;
 * `ferry push` seeds the registry back from that stick.
 */
import { execFileSync } from 'node:child_process';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { grubList, makeDevice, type TestDevice } from '../helpers/device.js';
import { makeStickKit, type StickKit } from '../helpers/device-stick.js';
import { pushImage, startRegistry, type TestRegistry } from '../helpers/registry.js';
import { ensureBuilt, ferry, hq } from './device-run.js';

let kit: StickKit;
let reg: TestRegistry;
let dev: TestDevice;
let media: string;
let trust: string;

beforeAll(async () => {
  ensureBuilt();
  kit = await makeStickKit();
  reg = await startRegistry({ auth: 'htpasswd' });
  await pushImage(reg, kit.samples.v1Archive, 'site/kiosk:1.0.0');
  dev = await makeDevice({ kind: 'grub', extra: { deviceId: 'kiosk-registry-1' } });
  await kit.installTrust(dev.trustDir);
  trust = path.join(kit.dir, 'trust');
  await kit.installTrust(trust);
  media = path.join(kit.dir, 'registry-stick');
}, 120_000);

afterAll(async () => {
  await dev?.cleanup();
  await reg?.stop();
  await kit?.cleanup();
});

describe('ferry export --image docker://', () => {
  it('takes credentials only from auth files: a missing --authfile is USAGE, none for the host REGISTRY_UNAUTHORIZED', () => {
    const r = hq('export', '--image', `docker://${reg.host}/site/kiosk:1.0.0`, '--target', 'kiosk', '--version', '1.0.0', '--media', path.join(kit.dir, 'nocreds'), '--create', '--tls-verify=false', '--authfile', path.join(kit.dir, 'none.json'));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/error\[USAGE\]: auth file .*none\.json cannot be read/);
    const empty = path.join(kit.dir, 'empty.json');
    execFileSync('sh', ['-c', `echo '{"auths":{}}' > '${empty}'`]);
    const r2 = hq('export', '--image', `docker://${reg.host}/site/kiosk:1.0.0`, '--target', 'kiosk', '--version', '1.0.0', '--media', path.join(kit.dir, 'nocreds'), '--create', '--tls-verify=false', '--authfile', empty);
    expect(r2.err).toMatch(/error\[REGISTRY_UNAUTHORIZED\]: .*access denied anonymously/);
    expect(r2.code).toBe(1);
  });

  it('exports and signs from the registry; the stick verifies, skopeo reads it, a device applies it', async () => {
    const r = hq(
      'export', '--image', `docker://${reg.host}/site/kiosk:1.0.0`, '--target', 'kiosk', '--version', '1.0.0', '--media', media, '--create',
      '--tls-verify=false', '--authfile', reg.authFile!, '--signer', kit.signerDir, '--compatible', 'acme,kiosk-v2', '--counter', '100', '--json',
    );
    expect(r.err).not.toMatch(/error\[/);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ manifest: { digest: kit.samples.v1Manifest.digest } });

    const v = hq('verify', '--media', media, '--trust', trust, '--json');
    expect(v.code).toBe(0);
    expect(JSON.parse(v.out)).toMatchObject({ ok: true });

    const inspect = JSON.parse(execFileSync('skopeo', ['inspect', '--raw', `oci:${path.join(media, 'FERRY', 'oci')}:kiosk-1.0.0`], { encoding: 'utf8' })) as { layers: unknown[] };
    expect(inspect.layers).toHaveLength(1);
    const copy = path.join(kit.dir, 'skopeo-copy');
    execFileSync('skopeo', ['copy', '--quiet', `oci:${path.join(media, 'FERRY', 'oci')}:kiosk-1.0.0`, `oci:${copy}:x`]);
    expect((await fsp.readdir(path.join(copy, 'blobs', 'sha256'))).length).toBe(3);

    const a = ferry(dev, ['device', 'apply', '--media', media, '--yes', '--json']);
    expect(a.status).toBe(0);
    expect(JSON.parse(a.stdout.trim().split('\n').pop()!)).toMatchObject({ ok: true, plan: { target: 'B', update: { id: 'kiosk-1.0.0' } } });
    expect(grubList(dev).ORDER).toBe('B A');
  }, 120_000);

  it('ferry push seeds the registry from the stick (basic auth from --authfile), signatures checked with --trust', () => {
    const r = hq('push', '--media', media, '--to', `docker://${reg.host}/seeded`, '--trust', trust, '--tls-verify=false', '--authfile', reg.authFile!, '--json');
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.out) as { pushed: Array<{ image: string; manifest: { digest: string }; blobs: Record<string, number> }> };
    expect(out.pushed).toHaveLength(1);
    expect(out.pushed[0]).toMatchObject({ image: `docker://${reg.host}/seeded/kiosk:1.0.0`, manifest: { digest: kit.samples.v1Manifest.digest } });
    const digest = execFileSync('skopeo', ['inspect', '--format', '{{.Digest}}', '--tls-verify=false', '--authfile', reg.authFile!, `docker://${reg.host}/seeded/kiosk:1.0.0`], { encoding: 'utf8' }).trim();
    expect(digest).toBe(kit.samples.v1Manifest.digest);
    const bad = hq('push', '--media', media, '--to', `docker://${reg.host}/seeded:1`, '--tls-verify=false', '--authfile', reg.authFile!);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/error\[USAGE\]: --to .* without tag or digest/);
  }, 60_000);
});

