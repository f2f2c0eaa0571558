/**
 * Registry authentication and TLS against real registries: htpasswd basic auth, bearer
 * tokens from a token server, TLS with a test CA (--cert-dir). Credentials come only from
 * auth files (--authfile, or the containers search path).
 */
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportImage } from '../../../src/media/export.js';
import { authFiles, findCredentials, parseChallenge } from '../../../src/oci/registry/auth.js';
import type { RegistryOptions } from '../../../src/oci/registry/client.js';
import { startFaultProxy } from '../../helpers/registry-proxy.js';
import { pushImage, REGISTRY_PASSWORD, REGISTRY_USER, startRegistry, type TestRegistry } from '../../helpers/registry.js';
import { buildSamplesInTemp, type SampleImages } from '../../helpers/samples.js';

let samples: SampleImages & { dir: string };
let tmp: string;
let n = 0;
const regs: TestRegistry[] = [];

beforeAll(async () => {
  samples = await buildSamplesInTemp('ferry-registry-samples-');
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'ferry-registry-auth-'));
}, 60_000);

afterAll(async () => {
  for (const r of regs) await r.stop();
  await fsp.rm(tmp, { recursive: true, force: true });
  await fsp.rm(samples?.dir, { recursive: true, force: true });
});

async function registry(opts: Parameters<typeof startRegistry>[0]): Promise<TestRegistry> {
  const r = await startRegistry(opts);
  regs.push(r);
  await pushImage(r, samples.v1Archive, 'kiosk:1.0.0');
  return r;
}

async function exportFrom(reg: { host: string }, registry: RegistryOptions) {
  const mediaRoot = path.join(tmp, `stick-${n++}`);
  await fsp.mkdir(mediaRoot);
  return exportImage({ image: `docker://${reg.host}/kiosk:1.0.0`, target: 'kiosk', version: '1.0.0', mediaRoot, registry });
}

async function authFile(host: string, user: string, password: string): Promise<string> {
  const f = path.join(tmp, `auth-${n++}.json`);
  await fsp.writeFile(f, JSON.stringify({ auths: { [host]: { auth: Buffer.from(`${user}:${password}`).toString('base64') } } }));
  return f;
}

describe('registry authentication', () => {
  it('htpasswd basic auth: credentials from --authfile; none or wrong ones are REGISTRY_UNAUTHORIZED', async () => {
    const reg = await registry({ auth: 'htpasswd' });
    await expect(exportFrom(reg, reg.clientOptions)).resolves.toMatchObject({ manifest: { digest: samples.v1Manifest.digest } });
    await expect(exportFrom(reg, { tlsVerify: false, authfile: path.join(tmp, 'empty.json') })).rejects.toMatchObject({ code: 'USAGE' });
    await fsp.writeFile(path.join(tmp, 'empty.json'), '{"auths":{}}');
    await expect(exportFrom(reg, { tlsVerify: false, authfile: path.join(tmp, 'empty.json') })).rejects.toMatchObject({ code: 'REGISTRY_UNAUTHORIZED' });
    await expect(exportFrom(reg, { tlsVerify: false, authfile: await authFile(reg.host, REGISTRY_USER, 'wrong') })).rejects.toMatchObject({ code: 'REGISTRY_UNAUTHORIZED' });
  }, 60_000);

  it('bearer tokens: the challenge is answered at the realm with the scope asked; anonymous is refused', async () => {
    const reg = await registry({ auth: 'token' });
    reg.token!.requests.length = 0;
    await expect(exportFrom(reg, reg.clientOptions)).resolves.toMatchObject({ manifest: { digest: samples.v1Manifest.digest } });
    // one token for the whole pull, asked with the credentials and for pull access only
    expect(reg.token!.requests).toEqual([{ scope: 'repository:kiosk:pull', user: REGISTRY_USER }]);
    await expect(exportFrom(reg, { tlsVerify: false, authfile: path.join(tmp, 'empty.json') })).rejects.toMatchObject({ code: 'REGISTRY_UNAUTHORIZED' });
    await expect(exportFrom(reg, { tlsVerify: false, authfile: await authFile(reg.host, REGISTRY_USER, 'wrong') })).rejects.toMatchObject({ code: 'REGISTRY_UNAUTHORIZED' });
  }, 60_000);

  it('keeps the Authorization header with the registry when a blob is redirected to storage on another host', async () => {
    const reg = await registry({ auth: 'htpasswd' });
    const proxy = await startFaultProxy(reg.host);
    try {
      proxy.faults.redirectBlobs = true;
      proxy.faults.storageAuth = `Basic ${Buffer.from(`${REGISTRY_USER}:${REGISTRY_PASSWORD}`).toString('base64')}`;
      const f = await authFile(proxy.host, REGISTRY_USER, REGISTRY_PASSWORD);
      await expect(exportFrom(proxy, { tlsVerify: false, authfile: f })).resolves.toMatchObject({ manifest: { digest: samples.v1Manifest.digest } });
      const storage = proxy.seen.filter((r) => r.path.startsWith('/storage/'));
      expect(storage.length).toBeGreaterThanOrEqual(2);
      expect(storage.every((r) => r.authorization === undefined)).toBe(true);
      // the registry's own requests did carry the credentials
      expect(proxy.seen.some((r) => r.path.includes('/manifests/') && r.authorization?.startsWith('Basic '))).toBe(true);
    } finally {
      await proxy.close();
    }
  }, 60_000);

  it('TLS: trusted through --cert-dir; an unknown CA is REGISTRY_TLS; --tls-verify=false reads it anyway', async () => {
    const reg = await registry({ tls: true, auth: 'htpasswd' });
    await expect(exportFrom(reg, reg.clientOptions)).resolves.toMatchObject({ manifest: { digest: samples.v1Manifest.digest } });
    await expect(exportFrom(reg, { tlsVerify: true, authfile: reg.authFile! })).rejects.toMatchObject({ code: 'REGISTRY_TLS' });
    await expect(exportFrom(reg, { tlsVerify: false, authfile: reg.authFile! })).resolves.toMatchObject({ manifest: { digest: samples.v1Manifest.digest } });
  }, 60_000);
});

describe('auth files and challenges', () => {
  it('searches XDG_RUNTIME_DIR, ~/.config/containers, ~/.docker in that order; --authfile replaces the list', async () => {
    const env = { HOME: path.join(tmp, 'home'), XDG_RUNTIME_DIR: path.join(tmp, 'run') };
    expect(authFiles(undefined, env)).toEqual([path.join(tmp, 'run/containers/auth.json'), path.join(tmp, 'home/.config/containers/auth.json'), path.join(tmp, 'home/.docker/config.json')]);
    expect(authFiles('/x/auth.json', env)).toEqual(['/x/auth.json']);
    await fsp.mkdir(path.join(tmp, 'home/.docker'), { recursive: true });
    await fsp.writeFile(path.join(tmp, 'home/.docker/config.json'), JSON.stringify({ auths: { 'reg.example:5000': { auth: Buffer.from('docker:pw').toString('base64') } } }));
    expect(await findCredentials('reg.example:5000', 'kiosk', undefined, env)).toEqual({ username: 'docker', password: 'pw' });
    await fsp.mkdir(path.join(tmp, 'run/containers'), { recursive: true });
    await fsp.writeFile(
      path.join(tmp, 'run/containers/auth.json'),
      JSON.stringify({ auths: { 'reg.example:5000/team/kiosk': { auth: Buffer.from('team:pw2').toString('base64') }, 'reg.example:5000': { auth: Buffer.from('run:pw3').toString('base64') } } }),
    );
    // the runtime file wins; a namespaced key beats the bare host
    expect(await findCredentials('reg.example:5000', 'team/kiosk', undefined, env)).toEqual({ username: 'team', password: 'pw2' });
    expect(await findCredentials('reg.example:5000', 'other', undefined, env)).toEqual({ username: 'run', password: 'pw3' });
    expect(await findCredentials('elsewhere', 'kiosk', undefined, env)).toBeUndefined();
  });

  it('parses Bearer and Basic challenges with quoted parameters', () => {
    expect(parseChallenge('Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push"')).toEqual({
      scheme: 'bearer',
      params: { realm: 'https://auth.example/token', service: 'registry.example', scope: 'repository:a/b:pull,push' },
    });
    expect(parseChallenge('Basic realm="x"')).toEqual({ scheme: 'basic', params: { realm: 'x' } });
    expect(parseChallenge(undefined)).toBeUndefined();
  });
});
