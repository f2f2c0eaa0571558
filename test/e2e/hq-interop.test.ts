/**
 * Interop with the real tools, through the built CLI: what ferry writes, skopeo and
 * umoci read (and umoci unpacks to the very tree that went in); what umoci and skopeo
 * write, ferry exports.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSamplesInTemp, type SampleImages } from '../helpers/samples.js';
import { tempDir } from '../media/fixtures.js';

const NODE = path.resolve('node_modules/.bin/node');
const CLI = path.resolve('dist/src/cli/main.js');
let s: SampleImages & { dir: string };
let dir: string;

function ferry(...args: string[]): string {
  return execFileSync(NODE, [CLI, ...args], { encoding: 'utf8' });
}

/** name → type, permission bits, size, content hash / link target, for every entry below `root`. */
async function describeTree(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (rel: string): Promise<void> => {
    for (const name of (await fsp.readdir(path.join(root, rel))).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const p = path.join(root, r);
      const st = await fsp.lstat(p);
      const mode = (st.mode & 0o7777).toString(8);
      if (st.isSymbolicLink()) out[r] = `link -> ${await fsp.readlink(p)}`;
      else if (st.isDirectory()) {
        out[r] = `dir ${mode}`;
        await walk(r);
      } else if (st.isFile()) out[r] = `file ${mode} ${st.size} ${createHash('sha256').update(await fsp.readFile(p)).digest('hex').slice(0, 16)}`;
      else out[r] = `other ${mode} ${st.rdev}`;
    }
  };
  await walk('');
  return out;
}

beforeAll(async () => {
  s = await buildSamplesInTemp();
  dir = await tempDir('ferry-interop-');
});
afterAll(async () => {
  await fsp.rm(s.dir, { recursive: true, force: true });
  await fsp.rm(dir, { recursive: true, force: true });
});

describe('ferry media read by skopeo and umoci', () => {
  it('skopeo inspects and copies an exported image by its ref', () => {
    const media = path.join(dir, 'stick');
    ferry('export', '--create', '--image', s.v1, '--target', 'kiosk', '--version', '1.0.0', '--media', media);
    ferry('export', '--create', '--image', s.v2Archive, '--target', 'kiosk', '--version', '1.1.0', '--media', media);
    const info = JSON.parse(execFileSync('skopeo', ['inspect', `oci:${media}/FERRY/oci:kiosk-1.1.0`]).toString());
    expect(info.Digest).toBe(s.v2Manifest.digest);
    expect(info.Layers).toHaveLength(2);
    const out = path.join(dir, 'copied.tar');
    execFileSync('skopeo', ['copy', '-q', `oci:${media}/FERRY/oci:kiosk-1.0.0`, `oci-archive:${out}`]);
    expect(JSON.parse(execFileSync('skopeo', ['inspect', `oci-archive:${out}`]).toString()).Layers).toHaveLength(1);
  });

  it('umoci unpacks a rootfs export to the same tree (names, types, modes, sizes, contents, symlinks, hardlinks)', async () => {
    const media = path.join(dir, 'rootfs-stick');
    ferry('export', '--create', '--image', `rootfs:${s.rootfsV1}`, '--target', 'os', '--version', '1.0.0', '--media', media); // gzip: umoci 0.4.7 cannot read zstd layers
    const bundle = path.join(dir, 'bundle-rootfs');
    execFileSync('umoci', ['unpack', '--image', `${media}/FERRY/oci:os-1.0.0`, bundle], { stdio: 'ignore' });
    expect(await describeTree(path.join(bundle, 'rootfs'))).toEqual(await describeTree(s.rootfsV1));
    const a = await fsp.stat(path.join(bundle, 'rootfs/usr/bin/hello'));
    expect((await fsp.stat(path.join(bundle, 'rootfs/usr/bin/hello-again'))).ino).toBe(a.ino);
  });

  it('umoci unpacks 1.1.0 (whiteout + opaque dir) to the expected 1.1.0 tree', async () => {
    const media = path.join(dir, 'v2-stick');
    ferry('export', '--create', '--image', s.v2, '--target', 'os', '--version', '1.1.0', '--media', media);
    const bundle = path.join(dir, 'bundle-v2');
    execFileSync('umoci', ['unpack', '--image', `${media}/FERRY/oci:os-1.1.0`, bundle], { stdio: 'ignore' });
    const tree = await describeTree(path.join(bundle, 'rootfs'));
    expect(tree['usr/share/doc/obsolete.txt']).toBeUndefined();
    expect(Object.keys(tree).filter((k) => k.startsWith('opt/app/'))).toEqual(['opt/app/new.txt']);
    expect(tree).toEqual(await describeTree(s.rootfsV2));
  });
});

describe('images made by umoci and skopeo exported by ferry', () => {
  it('exports an image built with umoci init/new/insert', async () => {
    const layout = path.join(dir, 'umoci-layout');
    execFileSync('umoci', ['init', '--layout', layout]);
    execFileSync('umoci', ['new', '--image', `${layout}:base`]);
    execFileSync('umoci', ['insert', '--image', `${layout}:base`, path.join(s.rootfsV1, 'usr/bin/hello'), '/usr/bin/hello']);
    execFileSync('umoci', ['insert', '--image', `${layout}:base`, path.join(s.rootfsV1, 'etc'), '/etc']);
    const media = path.join(dir, 'umoci-stick');
    const r = JSON.parse(ferry('export', '--create', '--image', `oci:${layout}:base`, '--target', 'um', '--version', '0.1.0', '--media', media, '--json'));
    expect(r.ok).toBe(true);
    // the manifest is kept byte for byte (umoci omits its optional mediaType field): the digest the build pipeline knows
    const source = JSON.parse(await fsp.readFile(path.join(layout, 'index.json'), 'utf8')).manifests[0].digest as string;
    expect(r.manifest.digest).toBe(source);
    expect(r.warnings).toEqual(expect.not.arrayContaining([expect.stringContaining('digest changed')]));
    ferry('verify', '--media', media);
    const bundle = path.join(dir, 'bundle-umoci');
    execFileSync('umoci', ['unpack', '--image', `${media}/FERRY/oci:um-0.1.0`, bundle], { stdio: 'ignore' });
    expect(await fsp.readFile(path.join(bundle, 'rootfs/usr/bin/hello'), 'utf8')).toContain('hello from ferry sample');
  });

  it('exports skopeo-written oci-archive and docker-archive copies with the same diff_ids as the source', async () => {
    const srcCfg = JSON.parse(execFileSync('skopeo', ['inspect', '--config', s.v2]).toString());
    const ociArchive = path.join(dir, 'skopeo.oci.tar');
    const dockerArchive = path.join(dir, 'skopeo.docker.tar');
    execFileSync('skopeo', ['copy', '-q', s.v2, `oci-archive:${ociArchive}:v2`]);
    execFileSync('skopeo', ['copy', '-q', s.v2, `docker-archive:${dockerArchive}:sample:v2`]);
    const media = path.join(dir, 'skopeo-stick');
    ferry('export', '--create', '--image', `oci-archive:${ociArchive}:v2`, '--target', 'sk', '--version', '1.0.0', '--media', media);
    ferry('export', '--create', '--image', `docker-archive:${dockerArchive}`, '--target', 'sk', '--version', '2.0.0', '--media', media, '--compress', 'gzip');
    for (const ref of ['sk-1.0.0', 'sk-2.0.0']) {
      const cfg = JSON.parse(execFileSync('skopeo', ['inspect', '--config', `oci:${media}/FERRY/oci:${ref}`]).toString());
      expect(cfg.rootfs.diff_ids).toEqual(srcCfg.rootfs.diff_ids);
    }
    ferry('verify', '--media', media);
    // an unchanged OCI image keeps its manifest bytes, so its digest is the source's
    const digestOf = (ref: string) => JSON.parse(execFileSync('skopeo', ['inspect', ref]).toString()).Digest;
    expect(digestOf(`oci:${media}/FERRY/oci:sk-1.0.0`)).toBe(digestOf(`oci-archive:${ociArchive}:v2`));
    const bundle = path.join(dir, 'bundle-docker');
    execFileSync('umoci', ['unpack', '--image', `${media}/FERRY/oci:sk-2.0.0`, bundle], { stdio: 'ignore' });
    expect(await describeTree(path.join(bundle, 'rootfs'))).toEqual(await describeTree(s.rootfsV2));
  });
});
