import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportImage } from '../../src/media/export.js';
import { inspectMedia } from '../../src/media/inspect.js';
import { buildSamplesInTemp, type SampleImages } from '../helpers/samples.js';
import { tempDir } from './fixtures.js';

let s: SampleImages & { dir: string };
let dir: string;

beforeAll(async () => {
  s = await buildSamplesInTemp();
  dir = await tempDir('ferry-inspect-');
});
afterAll(async () => {
  await fsp.rm(s.dir, { recursive: true, force: true });
  await fsp.rm(dir, { recursive: true, force: true });
});

describe('inspectMedia', () => {
  it('lists images with version, platform, layers and sizes, and the bytes they share', async () => {
    const media = path.join(dir, 'm');
    const a = await exportImage({ image: s.v1, target: 'kiosk', version: '1.0.0', mediaRoot: media });
    const b = await exportImage({ image: s.v2, target: 'kiosk', version: '1.1.0', mediaRoot: media });
    const sum = await inspectMedia(media);
    expect(sum.images.map((i) => [i.ref, i.version, i.platform, i.layers])).toEqual([
      ['kiosk-1.0.0', '1.0.0', 'linux/amd64', 1],
      ['kiosk-1.1.0', '1.1.0', 'linux/amd64', 2],
    ]);
    expect(sum.images[0]!.payloadBytes).toBe(a.payloadBytes);
    expect(sum.images[1]!.payloadBytes).toBe(b.payloadBytes);
    const man = JSON.parse(await fsp.readFile(path.join(media, 'FERRY/oci/blobs/sha256', b.manifest.digest.slice(7)), 'utf8'));
    const baseLayer = man.layers[0].size;
    expect(sum.sharedBytes).toBe(baseLayer);
    expect(sum.images[1]!.sharedBytes).toBe(baseLayer);
    expect(sum.totalBytes).toBe(a.bytesWritten + b.bytesWritten);
    expect(sum.blobs).toBe(6);
    expect(sum.updates).toEqual([]);
  });

  it('prints a table and a JSON form from the CLI', async () => {
    const media = path.join(dir, 'cli');
    await exportImage({ image: s.v1, target: 'kiosk', version: '1.0.0', mediaRoot: media });
    const node = path.resolve('node_modules/.bin/node');
    const cli = path.resolve('dist/src/cli/main.js');
    const t = spawnSync(node, [cli, 'inspect', '--media', media]);
    expect(t.status).toBe(0);
    expect(t.stdout.toString()).toMatch(/kiosk-1\.0\.0 +1\.0\.0 +linux\/amd64 +1 layer/);
    const j = JSON.parse(spawnSync(node, [cli, 'inspect', '--media', media, '--json']).stdout.toString());
    expect(j.ok).toBe(true);
    expect(j.images[0].ref).toBe('kiosk-1.0.0');
  });

  it('lists a damaged image with its problem instead of failing, and exits 5', async () => {
    const media = path.join(dir, 'damaged');
    await exportImage({ image: s.v1, target: 'kiosk', version: '1.0.0', mediaRoot: media });
    const b = await exportImage({ image: s.v2, target: 'kiosk', version: '1.1.0', mediaRoot: media });
    await fsp.rm(path.join(media, 'FERRY/oci/blobs/sha256', b.manifest.digest.slice(7)));
    const sum = await inspectMedia(media);
    expect(sum.images[0]!.problem).toBeUndefined();
    expect(sum.images[1]!.problem).toMatch(/missing/);
    const r = spawnSync(path.resolve('node_modules/.bin/node'), [path.resolve('dist/src/cli/main.js'), 'inspect', '--media', media]);
    expect(r.status).toBe(5);
    expect(r.stdout.toString()).toMatch(/kiosk-1\.1\.0 +DAMAGED/);
  });
});
