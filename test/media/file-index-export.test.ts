/**
 * export --file-index: the index computed at headquarters, pinned by the signed update,
 * equal to the one the device records while writing; inspect --diff between two updates;
 * drift against the stick's signed index for a slot the device did not index itself.
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyUpdate } from '../../src/device/apply.js';
import { deviceDeps } from '../../src/device/deps.js';
import { driftSlot } from '../../src/device/drift.js';
import { readIndexFile, slotIndexPath } from '../../src/device/files/index-store.js';
import { diffUpdates } from '../../src/media/inspect-diff.js';
import { FILE_INDEX_MEDIA_TYPE } from '../../src/oci/file-index-blob.js';
import { validateUpdateManifest } from '../../src/trust/manifest.js';
import { makeDevice, type TestDevice } from '../helpers/device.js';
import { makeStickKit, type StickKit } from '../helpers/device-stick.js';

let kit: StickKit;
let stick: string;
const devices: TestDevice[] = [];

beforeAll(async () => {
  kit = await makeStickKit();
  stick = await kit.makeStick([
    { image: 'v1', version: '1.0.0', counter: 100, fileIndex: true },
    { image: 'v2', version: '1.1.0', counter: 110, fileIndex: true },
  ]);
});
afterAll(async () => {
  for (const d of devices) await d.cleanup();
  await kit.cleanup();
});

async function update(id: string) {
  return validateUpdateManifest(JSON.parse(await fsp.readFile(path.join(stick, 'FERRY', 'updates', `${id}.json`), 'utf8')));
}

describe('export --file-index', () => {
  it('pins a file index blob in the signed update; it equals the index the device records while writing the slot', async () => {
    const u = await update('kiosk-1.0.0');
    expect(u.image.fileIndex).toMatchObject({ mediaType: FILE_INDEX_MEDIA_TYPE });
    const dev = await makeDevice();
    devices.push(dev);
    await kit.installTrust(dev.trustDir);
    await applyUpdate({ ...dev.opts, mediaRoot: stick, updateId: 'kiosk-1.0.0' }, deviceDeps);
    const own = await readIndexFile(slotIndexPath(dev.stateDir, 'B'), 'device index');
    const blob = path.join(stick, 'FERRY', 'oci', 'blobs', 'sha256', u.image.fileIndex!.digest.slice(7));
    await fsp.writeFile(path.join(dev.root, 'hq.json.gz'), await fsp.readFile(blob));
    expect(await readIndexFile(path.join(dev.root, 'hq.json.gz'), 'hq index')).toEqual(own);
  });

  it('refuses an update manifest whose image.fileIndex is not a file index descriptor', async () => {
    const u = JSON.parse(JSON.stringify(await update('kiosk-1.0.0')));
    u.image.fileIndex.mediaType = 'application/json';
    expect(() => validateUpdateManifest(u)).toThrow(/image\.fileIndex is not a application\/vnd\.ferry\.files\.v1\+json\+gzip descriptor/);
  });

  it('inspect --diff lists the files added, removed and changed between two updates, with sizes', async () => {
    const d = await diffUpdates(stick, 'kiosk-1.0.0', 'kiosk-1.1.0');
    expect(d.added.map((e) => e.path)).toEqual(['/opt/app/new.txt', '/usr/bin/newtool']);
    expect(d.removed.map((e) => e.path)).toEqual(['/opt/app/old-a.txt', '/opt/app/old-b.txt', '/usr/share/doc/obsolete.txt']);
    expect(d.changed.map((e) => `${e.path} ${e.changes!.join(',')}`)).toEqual(['/usr/lib/os-release content', '/usr/share/doc/readme.txt content']);
    expect(d.added[0]).toMatchObject({ to: { type: 'file', size: 'new in 1.1.0\n'.length } });
    expect(d.bytes.removed).toBe('old a\n'.length + 'old b\n'.length + 'this file is deleted in 1.1.0\n'.length);
    expect(d.unchanged).toBeGreaterThan(10);
    await expect(diffUpdates(stick, 'kiosk-1.0.0', 'kiosk-9.9.9')).rejects.toMatchObject({ code: 'IMAGE_NOT_FOUND' });
  });

  it('lets drift compare a slot the device did not index against the signed index on the stick', async () => {
    const dev = await makeDevice();
    devices.push(dev);
    await kit.installTrust(dev.trustDir);
    await applyUpdate({ ...dev.opts, mediaRoot: stick, updateId: 'kiosk-1.0.0' }, deviceDeps);
    await fsp.rm(slotIndexPath(dev.stateDir, 'B')); // as if written by an older ferry
    await expect(driftSlot({ ...dev.opts, slot: 'B' }, deviceDeps)).rejects.toMatchObject({ code: 'FILE_INDEX_MISSING' });
    const clean = await driftSlot({ ...dev.opts, slot: 'B', mediaRoot: stick }, deviceDeps);
    expect(clean).toMatchObject({ clean: true, indexFrom: 'media' });
    await fsp.writeFile(path.join(dev.root, 'slots', 'b', 'usr', 'share', 'doc', 'readme.txt'), 'changed on the device\n');
    const drift = await driftSlot({ ...dev.opts, slot: 'B', mediaRoot: stick }, deviceDeps);
    expect(drift.items).toEqual([{ path: '/usr/share/doc/readme.txt', change: 'content' }]);
    // A stick without a file index for this image: nothing to compare with.
    const plain = await kit.makeStick([{ image: 'v1', version: '1.0.0', counter: 100 }]);
    await expect(driftSlot({ ...dev.opts, slot: 'B', mediaRoot: plain }, deviceDeps)).rejects.toMatchObject({ code: 'FILE_INDEX_MISSING' });
  });
});
