/**
 * The stick's HQ write lock (FERRY/.lock): a second writer waits or fails with MEDIA_BUSY,
 * a dead owner's lock is broken, a failed run removes only what it wrote, and nobody
 * deletes another writer's temp files.
 */
import { spawnSync } from 'node:child_process';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isFerryError } from '../../src/errors.js';
import { exportImage } from '../../src/media/export.js';
import { isStale, lockMedia, withMediaLock } from '../../src/media/lock.js';
import { buildSamplesInTemp, type SampleImages } from '../helpers/samples.js';
import { mediaState, tempDir } from './fixtures.js';

let s: SampleImages & { dir: string };
let dir: string;

beforeAll(async () => {
  s = await buildSamplesInTemp();
  dir = await tempDir('ferry-lock-');
});
afterAll(async () => {
  await fsp.rm(s.dir, { recursive: true, force: true });
  await fsp.rm(dir, { recursive: true, force: true });
});

/** The pid of a process that has exited (so certainly not alive now). */
function deadPid(): number {
  return Number(spawnSync('sh', ['-c', 'echo $$'], { encoding: 'utf8' }).stdout.trim());
}

describe('the stick lock', () => {
  it('makes a second writer fail with MEDIA_BUSY naming the owner when it may not wait, and lets it in once released', async () => {
    const media = path.join(dir, 'busy');
    const held = await lockMedia(media, 'export kiosk-1.0.0');
    const err = await lockMedia(media, 'export kiosk-1.1.0', { waitMs: 0 }).catch((e: unknown) => e);
    expect(isFerryError(err, 'MEDIA_BUSY')).toBe(true);
    expect((err as Error).message).toContain(`pid ${process.pid}`);
    expect((err as Error).message).toContain('export kiosk-1.0.0');
    await held.release();
    const next = await lockMedia(media, 'export kiosk-1.1.0', { waitMs: 0 });
    await next.release();
    // the lock made FERRY/ and nothing else: releasing leaves the folder as it found it
    await expect(fsp.readdir(media)).resolves.toEqual([]);
  });

  it('waits for the owner with one message, then proceeds', async () => {
    const media = path.join(dir, 'wait');
    const held = await lockMedia(media, 'sign kiosk-1.0.0');
    const told: string[] = [];
    const waiting = lockMedia(media, 'export kiosk-1.1.0', { onWait: (o) => told.push(o.what) });
    setTimeout(() => void held.release(), 300);
    const got = await waiting;
    expect(told).toEqual(['sign kiosk-1.0.0']);
    await got.release();
  });

  it('breaks the lock of a dead process on this host, but not one held on another host', async () => {
    const media = path.join(dir, 'stale');
    await fsp.mkdir(path.join(media, 'FERRY'), { recursive: true });
    const file = path.join(media, 'FERRY', '.lock');
    const dead = { pid: deadPid(), host: os.hostname(), since: '2026-01-01T00:00:00Z', what: 'export', nonce: 'a' };
    expect(isStale(dead)).toBe(true);
    await fsp.writeFile(file, JSON.stringify(dead));
    const lock = await lockMedia(media, 'export', { waitMs: 0 });
    expect(JSON.parse(await fsp.readFile(file, 'utf8')).pid).toBe(process.pid);
    await lock.release();
    const remote = { ...dead, host: 'build-server-2' };
    expect(isStale(remote)).toBe(false);
    await fsp.writeFile(file, JSON.stringify(remote));
    const err = await lockMedia(media, 'export', { waitMs: 0 }).catch((e: unknown) => e);
    expect(isFerryError(err, 'MEDIA_BUSY')).toBe(true);
    expect((err as Error).message).toContain(`remove ${file}`);
  });

  it('an export waits for another writer and leaves its temp files alone', async () => {
    const media = path.join(dir, 'temps');
    const held = await lockMedia(media, 'export other');
    const blobs = path.join(media, 'FERRY', 'oci', 'blobs', 'sha256');
    await fsp.mkdir(blobs, { recursive: true });
    const theirs = path.join(blobs, '.ferry-tmp-blob.0123abcd');
    await fsp.writeFile(theirs, 'half of the other writer’s blob');
    const mine = exportImage({ image: s.v1, target: 'kiosk', version: '1.0.0', mediaRoot: media });
    await new Promise((r) => setTimeout(r, 500));
    // while waiting, the export has not touched the stick
    await expect(fsp.readFile(theirs, 'utf8')).resolves.toContain('other writer');
    expect((await mediaState(media)).refs).toEqual([]);
    await fsp.rm(theirs);
    await held.release();
    await mine;
    expect((await mediaState(media)).refs).toEqual(['kiosk-1.0.0']);
  });

  it('on failure removes exactly the files this run wrote and did not commit', async () => {
    const media = path.join(dir, 'rollback');
    await fsp.mkdir(path.join(media, 'FERRY'), { recursive: true });
    const keep = path.join(media, 'FERRY', 'keep');
    const drop = path.join(media, 'FERRY', 'drop');
    await expect(
      withMediaLock(media, 'test', {}, async (lock) => {
        await fsp.writeFile(keep, 'k');
        lock.wrote(keep);
        lock.commit();
        await fsp.writeFile(drop, 'd');
        lock.wrote(drop);
        throw new Error('disk full');
      }),
    ).rejects.toThrow('disk full');
    expect((await fsp.readdir(path.join(media, 'FERRY'))).sort()).toEqual(['keep']);
  });
});
