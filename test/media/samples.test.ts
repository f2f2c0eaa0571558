import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildSampleImages } from '../../samples/build-samples.js';
import { buildSamplesInTemp, exportSamples } from '../helpers/samples.js';
import { tempDir } from './fixtures.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await fsp.rm(d, { recursive: true, force: true });
});

describe('sample images', () => {
  it('are byte-identical when built twice in different folders', async () => {
    const a = await buildSamplesInTemp();
    const b = await tempDir('ferry-samples-b-');
    dirs.push(a.dir, b);
    const s2 = await buildSampleImages(b);
    expect(s2.v1Manifest).toEqual(a.v1Manifest);
    expect(s2.v2Manifest).toEqual(a.v2Manifest);
    const tarA = await fsp.readFile(a.v2Archive.slice('oci-archive:'.length));
    const tarB = await fsp.readFile(s2.v2Archive.slice('oci-archive:'.length));
    expect(tarA.equals(tarB)).toBe(true);
  });

  it('give 1.1.0 a second layer with a whiteout and an opaque directory, and export onto a stick', async () => {
    const s = await buildSamplesInTemp();
    dirs.push(s.dir);
    const man = JSON.parse(await fsp.readFile(path.join(s.layout, 'blobs/sha256', s.v2Manifest.digest.slice(7)), 'utf8'));
    expect(man.layers).toHaveLength(2);
    const { execFileSync } = await import('node:child_process');
    const names = execFileSync('tar', ['-tzf', path.join(s.layout, 'blobs/sha256', man.layers[1].digest.slice(7))]).toString().split('\n');
    expect(names).toContain('usr/share/doc/.wh.obsolete.txt');
    expect(names).toContain('opt/app/.wh..wh..opq');
    const media = path.join(s.dir, 'stick');
    const r = await exportSamples(s, media);
    expect([r.v1.ref, r.v2.ref]).toEqual(['kiosk-1.0.0', 'kiosk-1.1.0']);
    expect(r.v2.blobsSkipped).toBe(1);
  });
});
