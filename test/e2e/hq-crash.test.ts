/**
 * Crash safety: the built CLI is SIGKILLed at named points of an export (test hook
 * FERRY_FAULT_AT, see src/oci/fault.ts). After each kill the layout must still be valid
 * for skopeo and umoci and must not name the half-exported image; a re-run completes
 * and verify passes.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSamplesInTemp, type SampleImages } from '../helpers/samples.js';
import { mediaState, tempDir } from '../media/fixtures.js';

const NODE = path.resolve('node_modules/.bin/node');
const CLI = path.resolve('dist/src/cli/main.js');
let s: SampleImages & { dir: string };
let dir: string;

beforeAll(async () => {
  s = await buildSamplesInTemp();
  dir = await tempDir('ferry-crash-');
});
afterAll(async () => {
  await fsp.rm(s.dir, { recursive: true, force: true });
  await fsp.rm(dir, { recursive: true, force: true });
});

/** `keep` takes the byte-range copy path, `zstd` the re-encoding stream path: both must be crash-safe. */
function exportV2(media: string, compress: string, fault?: string) {
  return spawnSync(NODE, [CLI, 'export', '--image', s.v2Archive, '--target', 'kiosk', '--version', '1.1.0', '--media', media, '--compress', compress], {
    env: { ...process.env, ...(fault ? { FERRY_FAULT_AT: fault } : {}) },
  });
}

async function temps(media: string): Promise<string[]> {
  const oci = path.join(media, 'FERRY/oci');
  const names = [...(await fsp.readdir(oci)), ...(await fsp.readdir(path.join(oci, 'blobs/sha256')))];
  return names.filter((n) => n.startsWith('.ferry-tmp-'));
}

describe('export killed mid-way', () => {
  for (const [point, compress] of [
    ['after-first-blob-temp', 'zstd'],
    ['after-first-blob-temp', 'keep'],
    ['after-first-blob-rename', 'zstd'],
    ['after-first-blob-rename', 'keep'],
    ['before-index', 'zstd'],
  ] as const) {
    it(`leaves a valid layout without the new image when killed at ${point} (--compress ${compress}), and a re-run completes`, async () => {
      const media = path.join(dir, `${point}-${compress}`);
      execFileSync(NODE, [CLI, 'export', '--create', '--image', s.v1, '--target', 'kiosk', '--version', '1.0.0', '--media', media]);
      const killed = exportV2(media, compress, point);
      expect(killed.signal, killed.stderr.toString()).toBe('SIGKILL');
      // the first blob's temp at after-first-blob-temp; and at either blob point those of the later
      // blobs whose write had begun (blobs are synced and named in the background while the next is
      // written: with --compress keep the next layer, the config and the manifest too)
      const left = (await temps(media)).length;
      const first = point === 'after-first-blob-temp' ? 1 : 0;
      if (point === 'before-index') expect(left).toBe(0);
      else {
        expect(left).toBeGreaterThanOrEqual(first);
        expect(left).toBeLessThanOrEqual(compress === 'keep' ? first + 3 : first + 1);
      }
      // the old image is intact and readable by the real tools; the new one is not listed
      expect((await mediaState(media)).refs).toEqual(['kiosk-1.0.0']);
      execFileSync('skopeo', ['inspect', `oci:${media}/FERRY/oci:kiosk-1.0.0`], { stdio: 'ignore' });
      expect(spawnSync('skopeo', ['inspect', `oci:${media}/FERRY/oci:kiosk-1.1.0`]).status).not.toBe(0);
      expect(execFileSync('umoci', ['ls', '--layout', `${media}/FERRY/oci`]).toString().trim().split('\n')).toEqual(['kiosk-1.0.0']);

      const rerun = exportV2(media, compress);
      expect(rerun.status, rerun.stderr.toString()).toBe(0);
      expect(await temps(media)).toEqual([]);
      expect((await mediaState(media)).refs).toEqual(['kiosk-1.0.0', 'kiosk-1.1.0']);
      expect(spawnSync(NODE, [CLI, 'verify', '--media', media]).status).toBe(0);
      execFileSync('skopeo', ['inspect', `oci:${media}/FERRY/oci:kiosk-1.1.0`], { stdio: 'ignore' });
    });
  }
});
