/**
 * Bench inputs for one size, generated deterministically and cached in the work dir:
 * the 1.0.0 and 1.1.0 root filesystems, an OCI layout holding both, the two
 * oci-archives (made by skopeo), the RAUC bundle content (rootfs.tar.gz + manifest)
 * and a throwaway signing key for RAUC. Regenerated when the seed, size or generator
 * version changes.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildImage, layoutToArchive, type BuiltImage } from './oci-build.js';
import { applyUpdate, planRootfs, plannedBytes, planUpdate, writeEntries } from './rootfs.js';
import { runChecked } from './proc.js';

/** Bumped whenever the generator's output changes, so cached inputs are rebuilt. */
const GENERATOR_VERSION = 4;

/** Everything the operations read, for one size. */
export interface SizeInputs {
  sizeLabel: string;
  dir: string;
  rootfsBytes: number;
  fileCount: number;
  rootfs: { v1: string; v2: string };
  layout: string;
  archive: { v1: string; v2: string };
  image: { v1: BuiltImage; v2: BuiltImage };
  rauc: { content: string; cert: string; key: string; payloadBytes: number };
  /** Content bytes of the files 1.1.0 changes or adds (set for --rootfs inputs; synthetic ones derive it from the plan). */
  changedBytes?: number;
}

/** Parse "16M", "256M", "1G", "4G" into bytes. */
export function parseSize(label: string): number {
  const m = /^(\d+)([KMG])i?B?$/i.exec(label.trim());
  if (!m) throw new Error(`bad size "${label}": use e.g. 256M, 1G`);
  const unit = { K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[(m[2] as string).toUpperCase() as 'K' | 'M' | 'G'];
  return Number(m[1]) * unit;
}

/** Generate (or reuse) the inputs for one size under `workdir`. */
export async function prepareInputs(workdir: string, sizeLabel: string, seed: number, log: (s: string) => void, rootfs?: string): Promise<SizeInputs> {
  const dir = join(workdir, `inputs-${sizeLabel}`);
  const stamp = join(dir, 'inputs.json');
  const key = { generator: GENERATOR_VERSION, seed, sizeLabel, ...(rootfs !== undefined ? { rootfs } : {}) };
  if (existsSync(stamp)) {
    const cached = JSON.parse(await readFile(stamp, 'utf8')) as { key: typeof key; inputs: SizeInputs };
    if (JSON.stringify(cached.key) === JSON.stringify(key)) {
      log(`inputs ${sizeLabel}: reusing ${dir}`);
      return cached.inputs;
    }
  }
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const inputs = rootfs !== undefined ? await fromRootfs(dir, rootfs, seed, log) : await generate(dir, sizeLabel, seed, log);
  await writeFile(stamp, JSON.stringify({ key, inputs }, null, 2));
  return inputs;
}

async function generate(dir: string, sizeLabel: string, seed: number, log: (s: string) => void): Promise<SizeInputs> {
  const plan = planRootfs(seed, parseSize(sizeLabel));
  const rootfs = { v1: join(dir, 'rootfs-1.0.0'), v2: join(dir, 'rootfs-1.1.0') };
  log(`inputs ${sizeLabel}: writing rootfs 1.0.0 (${plan.length} entries, ${(plannedBytes(plan) / 2 ** 20).toFixed(0)} MiB)`);
  await writeEntries(rootfs.v1, seed, plan);
  await runChecked('cp', ['-a', rootfs.v1, rootfs.v2]);
  await applyUpdate(rootfs.v2, seed, planUpdate(seed, plan));
  return imagesOf(dir, sizeLabel, rootfs, plannedBytes(plan), plan.length, log);
}

/**
 * Inputs from a real tree (--rootfs): 1.0.0 is a copy of it, 1.1.0 rewrites every tenth
 * regular file (seeded, same size), as a rebuild that updates some packages does. Top-level
 * directories other than etc/ and opt/ all go into the base layer (bench/rootfs.ts LAYERS).
 */
async function fromRootfs(dir: string, tree: string, seed: number, log: (s: string) => void): Promise<SizeInputs> {
  const rootfs = { v1: join(dir, 'rootfs-1.0.0'), v2: join(dir, 'rootfs-1.1.0') };
  log(`inputs rootfs: copying ${tree}`);
  await mkdir(rootfs.v1, { recursive: true });
  await runChecked('cp', ['-a', `${tree}/.`, `${rootfs.v1}/`]);
  await runChecked('cp', ['-a', rootfs.v1, rootfs.v2]);
  const files = (await runChecked('find', ['.', '-type', 'f', '-printf', '%s %p\\n'], { cwd: rootfs.v2 })).stdout.split('\n').filter(Boolean).sort();
  let total = 0;
  let changed = 0;
  for (const [i, line] of files.entries()) {
    const size = Number(line.slice(0, line.indexOf(' ')));
    total += size;
    if ((i + seed) % 10 !== 0) continue;
    changed += size;
    // the same size, other bytes: a rebuilt file of a package update
    const f = join(rootfs.v2, line.slice(line.indexOf(' ') + 1));
    const data = await readFile(f);
    for (let at = 0; at < data.length; at += 4096) data[at] = (data[at]! + 1) & 0xff;
    await writeFile(f, data);
  }
  log(`inputs rootfs: ${files.length} files, ${(total / 2 ** 20).toFixed(0)} MiB; 1.1.0 rewrites ${(changed / 2 ** 20).toFixed(0)} MiB`);
  return { ...(await imagesOf(dir, 'rootfs', rootfs, total, files.length, log)), changedBytes: changed };
}

async function imagesOf(dir: string, sizeLabel: string, rootfs: { v1: string; v2: string }, rootfsBytes: number, fileCount: number, log: (s: string) => void): Promise<SizeInputs> {
  const layout = join(dir, 'layout');
  const raucContent = join(dir, 'rauc-content');
  await mkdir(raucContent, { recursive: true });
  log(`inputs ${sizeLabel}: building OCI layers and the RAUC rootfs.tar.gz`);
  const [v1, rauc] = await Promise.all([buildImage(rootfs.v1, layout, '1.0.0'), makeRaucContent(rootfs.v1, raucContent, dir)]);
  const v2 = await buildImage(rootfs.v2, layout, '1.1.0');
  const archive = { v1: join(dir, 'image-1.0.0.tar'), v2: join(dir, 'image-1.1.0.tar') };
  log(`inputs ${sizeLabel}: skopeo copy oci: -> oci-archive:`);
  await layoutToArchive(layout, '1.0.0', archive.v1);
  await layoutToArchive(layout, '1.1.0', archive.v2);
  return {
    sizeLabel, dir, rootfs, layout, archive,
    rootfsBytes,
    fileCount,
    image: { v1, v2 },
    rauc: { content: raucContent, ...rauc },
  };
}

/** RAUC bundle content: the same rootfs as one tar.gz image, a manifest, and a throwaway key. */
async function makeRaucContent(rootfs: string, content: string, dir: string): Promise<{ cert: string; key: string; payloadBytes: number }> {
  const cert = join(dir, 'rauc-cert.pem');
  const key = join(dir, 'rauc-key.pem');
  await runChecked('openssl', ['req', '-x509', '-newkey', 'rsa:3072', '-nodes', '-keyout', key, '-out', cert, '-subj', '/CN=ferry bench rauc signer', '-days', '3650']);
  const image = join(content, 'rootfs.tar.gz');
  await runChecked('tar', ['--sort=name', '--format=pax', '--pax-option=delete=atime,delete=ctime', '--mtime=@1767225600', '--numeric-owner', '-C', rootfs, '-czf', image, '.']);
  await writeFile(join(content, 'manifest.raucm'), [
    '[update]', 'compatible=ferry-bench', 'version=1.0.0', '',
    // plain: the signature covers the whole squashfs, so `rauc info` must hash every byte
    '[bundle]', 'format=plain', '',
    '[image.rootfs]', 'filename=rootfs.tar.gz', '',
  ].join('\n'));
  return { cert, key, payloadBytes: (await stat(image)).size };
}
