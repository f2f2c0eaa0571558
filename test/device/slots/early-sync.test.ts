import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EarlySync } from '../../../src/device/slots/early-sync.js';
import type { ProgressEvent } from '../../../src/progress.js';

let tmp: string;
let savedPath: string | undefined;
beforeEach(async () => {
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'ferry-early-sync-'));
  const bin = path.join(tmp, 'bin');
  await fsp.mkdir(bin);
  // a sync that logs its arguments, and fails while sync-fails exists
  await fsp.writeFile(path.join(bin, 'sync'), `#!/bin/sh\necho "$@" >> ${tmp}/sync.log\n[ -e ${tmp}/sync-fails ] && { echo "I/O error" >&2; exit 1; }\nexec /usr/bin/sync "$@"\n`, { mode: 0o755 });
  savedPath = process.env.PATH;
  process.env.PATH = `${bin}:${savedPath}`;
});
afterEach(async () => {
  process.env.PATH = savedPath;
  await fsp.rm(tmp, { recursive: true, force: true });
});

const write = (bytesDone: number): ProgressEvent => ({ step: 'write', bytesDone, bytesTotal: 100 });

describe('EarlySync (background syncfs while a slot is written)', () => {
  it('syncs the slot file system in the background once per step of the write, one at a time, and passes every event on', async () => {
    const seen: ProgressEvent[] = [];
    const early = new EarlySync(tmp, 10);
    const progress = early.progress((e) => seen.push(e));
    progress(write(5)); // below the first step: nothing
    progress({ step: 'verify', bytesDone: 50, bytesTotal: 100 }); // not the write: nothing
    progress(write(12)); // starts a sync
    progress(write(30)); // one is still running: not a second one
    await early.drained();
    progress(write(35)); // past a step since the last one: another
    await early.settle();
    progress(write(90)); // the helper has stopped: nothing more
    expect(seen.map((e) => e.bytesDone)).toEqual([5, 50, 12, 30, 35, 90]);
    expect(fs.readFileSync(path.join(tmp, 'sync.log'), 'utf8')).toBe(`-f ${tmp}\n-f ${tmp}\n`);
  });

  it('fails the write (SLOT_WRITE_FAILED) when a background sync fails', async () => {
    await fsp.writeFile(path.join(tmp, 'sync-fails'), '');
    const early = new EarlySync(tmp, 10);
    early.progress(() => undefined)(write(20));
    await expect(early.settle()).rejects.toMatchObject({ code: 'SLOT_WRITE_FAILED', message: expect.stringMatching(/cannot sync .*I\/O error/) });
  });

  it('syncs the slot in full on request through the same helper, after the sync in flight', async () => {
    const early = new EarlySync(tmp, 10);
    early.progress(() => undefined)(write(20)); // one in flight
    await early.syncNow();
    await early.settle();
    expect(fs.readFileSync(path.join(tmp, 'sync.log'), 'utf8')).toBe(`-f ${tmp}\n-f ${tmp}\n`);
  });

  it('fails the full sync (SLOT_WRITE_FAILED) when it fails, and still syncs when the helper is gone', async () => {
    await fsp.writeFile(path.join(tmp, 'sync-fails'), '');
    const failing = new EarlySync(tmp, 10);
    await expect(failing.syncNow()).rejects.toMatchObject({ code: 'SLOT_WRITE_FAILED', message: expect.stringMatching(/cannot sync .*I\/O error/) });
    await failing.settle();
    await fsp.rm(path.join(tmp, 'sync-fails'));
    const stopped = new EarlySync(tmp, 10);
    await stopped.settle(); // the helper has exited: sync is run directly
    await stopped.syncNow();
    expect(fs.readFileSync(path.join(tmp, 'sync.log'), 'utf8')).toBe(`-f ${tmp}\n-f ${tmp}\n`);
  });
});
