/**
 * samples/bootc/Containerfile built by rootful podman (a private vfs store, so the machine's own
 * store is untouched) from a base image the test makes with `podman import`, then exported with
 * `ferry export --image containers-storage:…` and signed: the stick holds the image podman built,
 * layer for layer, with ferry, its units and the device's config and trust root in it.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initRoot, issueCertificate } from '../../src/trust/pki.js';
import { ensureDeviceExecutable } from '../helpers/device-executable.js';
import { ensureBuilt, MAIN, NODE } from './device-run.js';

const REPO = path.resolve(import.meta.dirname, '../..');
let dir: string;
let store: string;
const tag = `ferry-ship-${process.pid}`;

const podman = (...args: string[]) =>
  execFileSync('podman', ['--root', path.join(dir, 'storage'), '--runroot', path.join(dir, 'run'), '--storage-driver', 'vfs', ...args], { encoding: 'utf8', timeout: 600_000, stdio: ['ignore', 'pipe', 'pipe'] });
const ferry = (...args: string[]) => spawnSync(NODE, [MAIN, ...args], { encoding: 'utf8', timeout: 600_000 });

/** Every entry (`tar -tv` line) of every layer blob of the image `ref` on the stick. */
async function layerEntries(media: string, ref: string): Promise<string[]> {
  const inspect = JSON.parse(execFileSync('skopeo', ['inspect', `oci:${path.join(media, 'FERRY', 'oci')}:${ref}`], { encoding: 'utf8' })) as { Layers: string[] };
  const out: string[] = [];
  for (const d of inspect.Layers) out.push(...execFileSync('tar', ['-tvf', path.join(media, 'FERRY', 'oci', 'blobs', 'sha256', d.slice(7))], { encoding: 'utf8', maxBuffer: 64 << 20 }).split('\n'));
  return out;
}

beforeAll(async () => {
  ensureBuilt();
  const exe = ensureDeviceExecutable();
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'ferry-bootc-'));
  store = `[vfs@${path.join(dir, 'storage')}+${path.join(dir, 'run')}]`;
  // a base image: a tiny root filesystem imported into the private store
  const base = path.join(dir, 'base');
  await fsp.mkdir(path.join(base, 'usr/lib'), { recursive: true });
  await fsp.mkdir(path.join(base, 'etc'));
  await fsp.writeFile(path.join(base, 'usr/lib/os-release'), 'ID=kiosk\nIMAGE_VERSION=1.0.0\n');
  await fsp.symlink('../usr/lib/os-release', path.join(base, 'etc/os-release'));
  execFileSync('tar', ['-C', base, '--numeric-owner', '-cf', path.join(dir, 'base.tar'), '.']);
  podman('import', path.join(dir, 'base.tar'), `localhost/${tag}-base:1`);
  await initRoot({ out: path.join(dir, 'root'), name: 'bootc test root' });
  await issueCertificate({ issuerDir: path.join(dir, 'root'), profile: 'signer', name: 'bootc test signer', days: 30, out: path.join(dir, 'signer') });
  execFileSync('bash', [path.join(REPO, 'samples/bootc/stage.sh'), path.join(dir, 'ctx'), '--config', path.join(REPO, 'samples/device/device.json'), '--trust-root', path.join(dir, 'root', 'cert.pem'), '--exe', exe]);
}, 30 * 60_000);
afterAll(async () => {
  if (dir) await fsp.rm(dir, { recursive: true, force: true });
});

describe('samples/bootc/Containerfile', () => {
  it('builds with rootful podman from a local base image and exports from containers-storage, signed', async () => {
    podman('build', '--build-arg', `BASE=localhost/${tag}-base:1`, '-t', `localhost/${tag}-kiosk:1.0.0`, path.join(dir, 'ctx'));
    const built = JSON.parse(execFileSync('skopeo', ['inspect', `containers-storage:${store}localhost/${tag}-kiosk:1.0.0`], { encoding: 'utf8' })) as { Layers: string[]; Labels: Record<string, string> };
    expect(built.Labels['containers.bootc']).toBe('1');
    const media = path.join(dir, 'stick');
    await fsp.mkdir(media); // a mounted stick
    const r = ferry('export', '--image', `containers-storage:${store}localhost/${tag}-kiosk:1.0.0`, '--target', 'kiosk', '--version', '1.0.0', '--media', media, '--signer', path.join(dir, 'signer'), '--compatible', 'acme,kiosk-v2', '--expires', '30');
    expect(r.stderr).not.toMatch(/error\[/);
    expect(r.status).toBe(0);
    // the same file system, layer for layer (skopeo's copy out of the store gzips the layers, so compare diff_ids)
    const diffIds = (name: string) => (JSON.parse(execFileSync('skopeo', ['inspect', '--config', name], { encoding: 'utf8' })) as { rootfs: { diff_ids: string[] } }).rootfs.diff_ids;
    const builtIds = diffIds(`containers-storage:${store}localhost/${tag}-kiosk:1.0.0`);
    expect(builtIds).toHaveLength(built.Layers.length);
    expect(diffIds(`oci:${path.join(media, 'FERRY', 'oci')}:kiosk-1.0.0`)).toEqual(builtIds);
    const entries = await layerEntries(media, 'kiosk-1.0.0');
    const size = (await fsp.stat(path.join(dir, 'ctx/usr/bin/ferry'))).size;
    expect(entries.some((l) => new RegExp(`^-rwxr-xr-x \\S+ +${size} .* usr/bin/ferry$`).test(l))).toBe(true);
    expect(entries.some((l) => l.endsWith('usr/bin/ferry-tui -> ferry'))).toBe(true);
    expect(entries.some((l) => l.endsWith('usr/lib/systemd/system/multi-user.target.wants/ferry-boot-check.service -> ../ferry-boot-check.service'))).toBe(true);
    expect(entries.some((l) => l.endsWith('etc/ferry/trust/roots/root.pem'))).toBe(true);
    const v = ferry('verify', '--media', media, '--trust', path.join(dir, 'ctx/etc/ferry/trust'));
    expect(v.status).toBe(0);
  });

  it('names a missing image in containers storage with IMAGE_NOT_FOUND', async () => {
    await fsp.mkdir(path.join(dir, 'stick2'));
    const r = ferry('export', '--image', `containers-storage:${store}localhost/${tag}-nope:9.9.9`, '--target', 'kiosk', '--version', '9.9.9', '--media', path.join(dir, 'stick2'));
    expect(r.stderr).toMatch(/^ferry: error\[IMAGE_NOT_FOUND\]: containers-storage:.*nope:9\.9\.9: cannot read it from containers storage: .*does not resolve to an image/m);
    expect(r.status).toBe(5);
  });
});
