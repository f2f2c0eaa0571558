/**
 * Sample images for tests and the demo, built deterministically in about a second:
 * a small bootable-ish rootfs 1.0.0 (os-release, kernel placeholder under
 * usr/lib/modules, symlinks, a hardlink, an executable, 1 MiB of data) and 1.1.0 =
 * 1.0.0's layer + a diff layer that changes, adds and deletes files, with a whiteout
 * (`.wh.<name>`) and an opaque directory (`<dir>/.wh..wh..opq`) (image-spec layer.md).
 *
 * Output under OUT: layout/ (OCI layout with refs sample-1.0.0 and sample-1.1.0),
 * sample-1.0.0.oci.tar and sample-1.1.0.oci.tar (oci-archives), rootfs-1.0.0/ and
 * rootfs-1.1.0/ (the trees each image must unpack to).
 *
 * Run: node dist/samples/build-samples.js OUT
 */
import { createHash } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import * as tar from 'tar-stream';
import { layoutMembers, writeTarAtomic } from '../src/oci/archive-writer.js';
import { LayoutWriter } from '../src/oci/blob-store.js';
import { compressor } from '../src/oci/compress.js';
import { DigestComputer } from '../src/oci/digest.js';
import { packRootfsDir, rootfsConfig } from '../src/oci/rootfs.js';
import { Annotation, type Descriptor, MediaType, type Platform } from '../src/oci/types.js';

/** Fixed SOURCE_DATE_EPOCH of the samples (2023-11-14T22:13:20Z). */
export const SAMPLE_EPOCH = 1_700_000_000;
/** Kernel version of the placeholder kernel. */
export const SAMPLE_KVER = '6.1.0-ferry';

/** What buildSampleImages made. Input names are ready for exportImage / `ferry export --image`. */
export interface SampleImages {
  /** OCI layout holding both images. */
  layout: string;
  /** `oci:<layout>:sample-1.0.0` */
  v1: string;
  /** `oci:<layout>:sample-1.1.0` */
  v2: string;
  /** `oci-archive:<file>` of 1.0.0 / 1.1.0 (layout at the tar root, like skopeo writes). */
  v1Archive: string;
  v2Archive: string;
  /** Directories holding exactly the trees the images unpack to. */
  rootfsV1: string;
  rootfsV2: string;
  /** Manifest descriptors in the sample layout. */
  v1Manifest: Descriptor;
  v2Manifest: Descriptor;
  platform: Platform;
}

/** Deterministic pseudo-random bytes (sha256 in counter mode). */
export function sampleBytes(seed: string, size: number): Buffer {
  const out = Buffer.alloc(size);
  for (let off = 0, i = 0; off < size; off += 32, i++) createHash('sha256').update(`${seed}:${i}`).digest().copy(out, off);
  return out;
}

async function put(root: string, rel: string, data: string | Buffer, mode = 0o644): Promise<void> {
  const p = path.join(root, rel);
  await fsp.mkdir(path.dirname(p), { recursive: true });
  await fsp.writeFile(p, data);
  await fsp.chmod(p, mode);
}

function osRelease(version: string): string {
  return `NAME="Ferry Sample OS"\nID=ferry-sample\nVERSION_ID=${version}\nPRETTY_NAME="Ferry Sample OS ${version}"\n`;
}

/** Write the 1.0.0 tree. */
export async function makeRootfsV1(root: string): Promise<void> {
  await put(root, 'usr/lib/os-release', osRelease('1.0.0'));
  await fsp.mkdir(path.join(root, 'etc'), { recursive: true });
  await fsp.symlink('../usr/lib/os-release', path.join(root, 'etc/os-release'));
  await put(root, 'etc/hostname', 'kiosk\n');
  await put(root, 'etc/ferry/motd', 'welcome to sample 1.0.0\n');
  await put(root, `usr/lib/modules/${SAMPLE_KVER}/vmlinuz`, sampleBytes('vmlinuz-1', 64 * 1024));
  await put(root, 'usr/bin/hello', '#!/bin/sh\necho hello from ferry sample\n', 0o755);
  await fsp.link(path.join(root, 'usr/bin/hello'), path.join(root, 'usr/bin/hello-again'));
  await put(root, 'usr/lib/libdemo.so.1.0', sampleBytes('libdemo', 8 * 1024), 0o755);
  await fsp.symlink('libdemo.so.1.0', path.join(root, 'usr/lib/libdemo.so.1'));
  await put(root, 'usr/share/data/blob.bin', sampleBytes('blob', 1024 * 1024));
  await put(root, 'usr/share/doc/obsolete.txt', 'this file is deleted in 1.1.0\n');
  await put(root, 'usr/share/doc/readme.txt', 'sample readme\n');
  await put(root, 'opt/app/old-a.txt', 'old a\n');
  await put(root, 'opt/app/old-b.txt', 'old b\n');
  await fsp.mkdir(path.join(root, 'var/lib/app'), { recursive: true });
  await fsp.mkdir(path.join(root, 'tmp'), { recursive: true });
  await fsp.chmod(path.join(root, 'tmp'), 0o1777);
}

/** The 1.1.0 diff as (tar entry, how to apply it to a tree) pairs: one list, so layer and tree agree. */
interface DiffOp {
  header: { name: string; type: 'file' | 'directory'; mode: number };
  data?: Buffer;
  apply(root: string): Promise<void>;
}

function diffOps(): DiffOp[] {
  const dir = (name: string): DiffOp => ({ header: { name, type: 'directory', mode: 0o755 }, apply: async () => undefined });
  const file = (name: string, data: Buffer, mode = 0o644): DiffOp => ({ header: { name, type: 'file', mode }, data, apply: (r) => put(r, name, data, mode) });
  return [
    dir('opt/'),
    // opaque: everything opt/app had in lower layers is hidden; only new.txt remains
    { header: { name: 'opt/app/', type: 'directory', mode: 0o755 }, apply: async (r) => fsp.rm(path.join(r, 'opt/app'), { recursive: true, force: true }).then(() => fsp.mkdir(path.join(r, 'opt/app'))) },
    { header: { name: 'opt/app/.wh..wh..opq', type: 'file', mode: 0o644 }, data: Buffer.alloc(0), apply: async () => undefined },
    file('opt/app/new.txt', Buffer.from('new in 1.1.0\n')),
    dir('usr/'),
    dir('usr/bin/'),
    file('usr/bin/newtool', Buffer.from('#!/bin/sh\necho new tool\n'), 0o755),
    dir('usr/lib/'),
    file('usr/lib/os-release', Buffer.from(osRelease('1.1.0'))),
    dir('usr/share/'),
    dir('usr/share/doc/'),
    { header: { name: 'usr/share/doc/.wh.obsolete.txt', type: 'file', mode: 0o644 }, data: Buffer.alloc(0), apply: (r) => fsp.rm(path.join(r, 'usr/share/doc/obsolete.txt')) },
    file('usr/share/doc/readme.txt', Buffer.from('sample readme, revised for 1.1.0\n')),
  ];
}

/** Write the 1.1.0 diff layer as an uncompressed tar stream (names are ASCII, so tar-stream is safe here). */
function diffLayerTar(ops: DiffOp[]): Readable {
  const pack = tar.pack();
  const mtime = new Date(SAMPLE_EPOCH * 1000);
  for (const op of ops) pack.entry({ ...op.header, uid: 0, gid: 0, uname: '', gname: '', mtime, size: op.data?.length ?? 0 } as tar.Header, op.data ?? Buffer.alloc(0));
  pack.finalize();
  return pack as unknown as Readable;
}

async function writeGzipLayer(w: LayoutWriter, tarStream: Readable): Promise<{ desc: Descriptor; diffId: string }> {
  const diff = new DigestComputer();
  const r = await w.writeStream(tarStream, [diff, compressor('gzip')], MediaType.layerGzip, 'sample layer');
  return { desc: r.descriptor, diffId: diff.digest };
}

async function writeImage(w: LayoutWriter, layers: Array<{ desc: Descriptor; diffId: string }>, platform: Platform): Promise<Descriptor> {
  const cfg = await w.writeBytes(rootfsConfig(platform, layers.map((l) => l.diffId), SAMPLE_EPOCH), MediaType.imageConfig);
  const man = { schemaVersion: 2, mediaType: MediaType.imageManifest, config: cfg.descriptor, layers: layers.map((l) => l.desc) };
  return (await w.writeBytes(Buffer.from(JSON.stringify(man)), MediaType.imageManifest)).descriptor;
}

function indexEntry(d: Descriptor, version: string): Descriptor {
  return { mediaType: d.mediaType, digest: d.digest, size: d.size, annotations: { [Annotation.refName]: `sample-${version}`, [Annotation.version]: version } };
}

/** Build the sample images under `outDir` (created if needed; must be empty or absent). */
export async function buildSampleImages(outDir: string): Promise<SampleImages> {
  const platform: Platform = { os: 'linux', architecture: 'amd64' };
  const rootfsV1 = path.join(outDir, 'rootfs-1.0.0');
  const rootfsV2 = path.join(outDir, 'rootfs-1.1.0');
  await fsp.mkdir(rootfsV1, { recursive: true });
  await makeRootfsV1(rootfsV1);
  await fsp.cp(rootfsV1, rootfsV2, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
  // fs.cp copies a hardlink pair as two files: re-link in the copy
  await fsp.rm(path.join(rootfsV2, 'usr/bin/hello-again'));
  await fsp.link(path.join(rootfsV2, 'usr/bin/hello'), path.join(rootfsV2, 'usr/bin/hello-again'));
  const ops = diffOps();
  for (const op of ops) await op.apply(rootfsV2);

  const layout = path.join(outDir, 'layout');
  const w = await LayoutWriter.create(layout);
  const l1 = await writeGzipLayer(w, await packRootfsDir(rootfsV1, SAMPLE_EPOCH));
  const l2 = await writeGzipLayer(w, diffLayerTar(ops));
  const v1Manifest = await writeImage(w, [l1], platform);
  const v2Manifest = await writeImage(w, [l1, l2], platform);
  await w.addToIndex([indexEntry(v1Manifest, '1.0.0'), indexEntry(v2Manifest, '1.1.0')]);

  const archives: string[] = [];
  for (const [version, man, ls] of [['1.0.0', v1Manifest, [l1]], ['1.1.0', v2Manifest, [l1, l2]]] as const) {
    const one = path.join(outDir, `layout-${version}`);
    const wv = await LayoutWriter.create(one);
    for (const l of ls) await fsp.copyFile(w.blobPath(l.desc.digest), wv.blobPath(l.desc.digest));
    const manBytes = await fsp.readFile(w.blobPath(man.digest));
    const cfg = (JSON.parse(manBytes.toString()) as { config: Descriptor }).config;
    await fsp.copyFile(w.blobPath(cfg.digest), wv.blobPath(cfg.digest));
    await fsp.copyFile(w.blobPath(man.digest), wv.blobPath(man.digest));
    await wv.addToIndex([indexEntry(man, version)]);
    const file = path.join(outDir, `sample-${version}.oci.tar`);
    await writeTarAtomic(file, await layoutMembers(one));
    archives.push(file);
  }
  return {
    layout,
    v1: `oci:${layout}:sample-1.0.0`,
    v2: `oci:${layout}:sample-1.1.0`,
    v1Archive: `oci-archive:${archives[0]}`,
    v2Archive: `oci-archive:${archives[1]}`,
    rootfsV1,
    rootfsV2,
    v1Manifest,
    v2Manifest,
    platform,
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const out = process.argv[2];
  if (!out) {
    process.stderr.write('usage: node dist/samples/build-samples.js OUT_DIR\n');
    process.exit(2);
  }
  const s = await buildSampleImages(path.resolve(out));
  process.stdout.write(JSON.stringify(s, null, 2) + '\n');
}
