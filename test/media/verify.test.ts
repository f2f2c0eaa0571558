import { spawnSync } from 'node:child_process';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportImage } from '../../src/media/export.js';
import { verifyMediaBlobs } from '../../src/media/verify.js';
import type { ProgressEvent } from '../../src/progress.js';
import { buildSamplesInTemp, type SampleImages } from '../helpers/samples.js';
import { tempDir } from './fixtures.js';

let s: SampleImages & { dir: string };
let dir: string;
const NODE = path.resolve('node_modules/.bin/node');
// the built CLI: `npm test` runs tsc before vitest
const CLI = path.resolve('dist/src/cli/main.js');

beforeAll(async () => {
  s = await buildSamplesInTemp();
  dir = await tempDir('ferry-verify-');
});
afterAll(async () => {
  await fsp.rm(s.dir, { recursive: true, force: true });
  await fsp.rm(dir, { recursive: true, force: true });
});

async function twoImages(name: string): Promise<{ media: string; layers: string[]; config2: string }> {
  const media = path.join(dir, name);
  await exportImage({ image: s.v1, target: 'kiosk', version: '1.0.0', mediaRoot: media });
  const r = await exportImage({ image: s.v2, target: 'kiosk', version: '1.1.0', mediaRoot: media });
  const man = JSON.parse(await fsp.readFile(path.join(media, 'FERRY/oci/blobs/sha256', r.manifest.digest.slice(7)), 'utf8'));
  return { media, layers: man.layers.map((l: { digest: string }) => l.digest), config2: man.config.digest };
}

const blobFile = (media: string, d: string) => path.join(media, 'FERRY/oci/blobs/sha256', d.slice(7));

describe('verifyMediaBlobs', () => {
  it('checks each referenced blob once and reports progress up to the total', async () => {
    const { media } = await twoImages('good');
    const events: ProgressEvent[] = [];
    const r = await verifyMediaBlobs(media, { progress: (e) => events.push(e) });
    expect(r.ok).toBe(true);
    expect(r.images.map((i) => i.ref)).toEqual(['kiosk-1.0.0', 'kiosk-1.1.0']);
    expect(r.blobsChecked).toBe(6); // 2 manifests, 2 configs, 2 distinct layers
    const last = events[events.length - 1]!;
    expect(last.bytesDone).toBe(last.bytesTotal);
  });

  it('lists every damaged or missing blob, with the images that need it', async () => {
    const { media, layers, config2 } = await twoImages('bad');
    const fh = await fsp.open(blobFile(media, layers[0]!), 'r+');
    await fh.write(Buffer.from('!'), 0, 1, 4000); // same size, different content
    await fh.close();
    await fsp.rm(blobFile(media, layers[1]!));
    await fsp.appendFile(blobFile(media, config2), ' ');
    const r = await verifyMediaBlobs(media);
    expect(r.ok).toBe(false);
    const byDigest = Object.fromEntries(r.problems.map((p) => [p.digest, p]));
    expect(byDigest[layers[0]!]).toMatchObject({ kind: 'digest-mismatch', refs: ['kiosk-1.0.0', 'kiosk-1.1.0'] });
    expect(byDigest[layers[1]!]).toMatchObject({ kind: 'missing', refs: ['kiosk-1.1.0'] });
    expect(byDigest[config2]).toMatchObject({ kind: 'size-mismatch' });
    expect(r.problems).toHaveLength(3);
  });

  it('hashing blobs on a worker beside the main thread finds the same problems, in the same order, with progress to the total', async () => {
    const { media, layers, config2 } = await twoImages('parallel');
    const sequential = await verifyMediaBlobs(media, { parallelMinBytes: Number.MAX_SAFE_INTEGER });
    const events: ProgressEvent[] = [];
    const good = await verifyMediaBlobs(media, { parallelMinBytes: 0, progress: (e) => events.push(e) });
    expect(good).toEqual(sequential);
    expect(good.ok).toBe(true);
    expect(events[events.length - 1]!.bytesDone).toBe(events[events.length - 1]!.bytesTotal);
    // damage every kind of blob (the largest is hashed on the main thread, the others on the worker)
    for (const d of [...layers, config2]) {
      const fh = await fsp.open(blobFile(media, d), 'r+');
      await fh.write(Buffer.from('!'), 0, 1, 100);
      await fh.close();
    }
    const seq = await verifyMediaBlobs(media, { parallelMinBytes: Number.MAX_SAFE_INTEGER });
    const par = await verifyMediaBlobs(media, { parallelMinBytes: 0 });
    expect(par.problems.map((p) => [p.digest, p.kind])).toEqual([...layers, config2].map((d) => [d, 'digest-mismatch']).sort((a, b) => seq.problems.findIndex((p) => p.digest === a[0]) - seq.problems.findIndex((p) => p.digest === b[0])));
    expect(par).toEqual(seq);
  });
});

describe('ferry verify (CLI)', () => {
  it('exits 0 on good media, 3 on altered content, 5 when blobs are only missing, listing all of them', async () => {
    const good = await twoImages('cli-good');
    const ok = spawnSync(NODE, [CLI, 'verify', '--media', good.media]);
    expect(ok.status).toBe(0);
    expect(ok.stdout.toString()).toContain('2 image(s)');

    const altered = await twoImages('cli-altered');
    await fsp.writeFile(blobFile(altered.media, altered.layers[1]!), 'x');
    await fsp.rm(blobFile(altered.media, altered.layers[0]!));
    const bad = spawnSync(NODE, [CLI, 'verify', '--media', altered.media]);
    expect(bad.status).toBe(3);
    const err = bad.stderr.toString();
    expect(err).toContain(altered.layers[0]!);
    expect(err).toContain(altered.layers[1]!);
    expect(err).toMatch(/error\[DIGEST_MISMATCH\]/);

    const missing = await twoImages('cli-missing');
    await fsp.rm(blobFile(missing.media, missing.layers[1]!));
    const j = spawnSync(NODE, [CLI, 'verify', '--media', missing.media, '--json']);
    expect(j.status).toBe(5);
    const report = JSON.parse(j.stdout.toString());
    expect(report.ok).toBe(false);
    expect(report.problems.map((p: { kind: string }) => p.kind)).toEqual(['missing']);
    expect(report.error.code).toBe('BLOB_MISSING');
  });

  it('prints progress events as JSON lines with --progress', async () => {
    const { media } = await twoImages('cli-progress');
    const r = spawnSync(NODE, [CLI, 'verify', '--media', media, '--progress']);
    const lines = r.stderr.toString().trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.every((e: ProgressEvent) => e.step === 'verify')).toBe(true);
  });

  it('says what is wrong when the folder holds no media', () => {
    const r = spawnSync(NODE, [CLI, 'verify', '--media', path.join(dir, 'nothing-here')]);
    expect(r.status).toBe(5);
    expect(r.stderr.toString()).toMatch(/error\[MEDIA_NOT_FOUND\]/);
  });
});
