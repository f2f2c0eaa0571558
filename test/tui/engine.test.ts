import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { DeviceDeps } from '../../src/device/context.js';
import { deviceDeps } from '../../src/device/deps.js';
import type { UpdateManifest } from '../../src/trust/types.js';
import { createEngine } from '../../tui/engine.js';
import { makeDevice, type TestDevice } from '../helpers/device.js';

const manifest: UpdateManifest = {
  schema: 'ferry.update/v1',
  id: 'kiosk-1.1.0',
  created: '2026-11-01T00:00:00Z',
  expires: '2027-11-01T00:00:00Z',
  target: { name: 'kiosk', compatible: ['acme,kiosk-v2'], version: '1.1.0', counter: 110 },
  image: {
    ref: 'kiosk-1.1.0',
    manifest: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${'a'.repeat(64)}`, size: 400 },
    platform: { os: 'linux', architecture: 'amd64' },
    payloadBytes: 1_000_000,
    unpackedBytes: 3_000_000,
  },
};

let dev: TestDevice | undefined;
const savedCmdline = process.env.FERRY_CMDLINE_FILE;
afterEach(async () => {
  if (savedCmdline === undefined) delete process.env.FERRY_CMDLINE_FILE;
  else process.env.FERRY_CMDLINE_FILE = savedCmdline;
  await dev?.cleanup();
  dev = undefined;
});

describe('the TUI engine', () => {
  it('judges space by the slot\'s own measure, as ferry device apply does: a dir slot with room for the compressed payload but not the unpacked tree is refused', async () => {
    dev = await makeDevice({ compatible: 'acme,kiosk-v2' });
    process.env.FERRY_CMDLINE_FILE = dev.cmdlineFile;
    const stick = path.join(dev.root, 'stick');
    await fsp.mkdir(path.join(stick, 'FERRY'), { recursive: true });
    const deps: DeviceDeps = {
      ...deviceDeps,
      // the dir slot as configured, with 2 MB free: more than the payload, less than unpacked
      createSlot: (name, cfg, ctx) => Object.assign(deviceDeps.createSlot(name, cfg, ctx), { availableBytes: async () => 2_000_000 }),
      verifyMedia: async () => ({ candidates: [{ id: manifest.id, manifest, signers: ['CN=ferry signer,O=ACME'] }] }),
    };
    const engine = createEngine({ configFile: dev.configFile, deps });
    const listing = await engine.listUpdates(stick);
    expect(listing.updates.map((u) => [u.id, u.problem?.code])).toEqual([['kiosk-1.1.0', 'NO_SPACE']]);
    expect(listing.updates[0]!.problem!.message).toContain('needs 3000000 (unpacked size)');
    await expect(engine.plan(stick, 'kiosk-1.1.0')).rejects.toMatchObject({ code: 'NO_SPACE' });
    // signature and blob checks do not depend on the slot: the verified update is found
    await expect(engine.verifySignature(stick, 'kiosk-1.1.0')).resolves.toMatchObject({ signers: ['ferry signer'] });
  });
});
