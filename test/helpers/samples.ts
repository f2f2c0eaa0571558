/**
 * Shared test helper: sample images (1.0.0, and 1.1.0 with a whiteout and an opaque
 * directory) built by samples/build-samples.ts into a fresh temp dir. Call in beforeAll;
 * remove `dir` in afterAll.
 */
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildSampleImages, type SampleImages } from '../../samples/build-samples.js';

export { buildSampleImages, SAMPLE_EPOCH, SAMPLE_KVER, sampleBytes, type SampleImages } from '../../samples/build-samples.js';

/** Build the samples in a new temp dir; `dir` is that dir (remove it when done). */
export async function buildSamplesInTemp(prefix = 'ferry-samples-'): Promise<SampleImages & { dir: string }> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), prefix));
  return { ...(await buildSampleImages(dir)), dir };
}

/**
 * Export the sample images onto `mediaRoot` as `<target>-1.0.0` and `<target>-1.1.0`
 * (unsigned: add update manifests with the trust engineer's publishUpdate).
 */
export async function exportSamples(samples: SampleImages, mediaRoot: string, target = 'kiosk') {
  const { exportImage } = await import('../../src/media/export.js');
  const v1 = await exportImage({ image: samples.v1, target, version: '1.0.0', mediaRoot });
  const v2 = await exportImage({ image: samples.v2, target, version: '1.1.0', mediaRoot });
  return { v1, v2 };
}
