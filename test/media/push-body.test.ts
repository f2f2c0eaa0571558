/**
 * stickBlobBody against a real registry: a stick blob of several 4 MiB chunks uploaded in one
 * request from pooled buffers, hashed on the worker; an altered blob is refused before its last
 * chunk leaves (DIGEST_MISMATCH, nothing stored), a file of another size or a missing one too.
 */
import { randomBytes } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stickBlobBody } from '../../src/media/push-body.js';
import { sha256Digest } from '../../src/oci/digest.js';
import { RegistryClient, readCapped } from '../../src/oci/registry/client.js';
import { parseRegistryRef } from '../../src/oci/registry/reference.js';
import { bytesOpener, hasBlob, pushBlob } from '../../src/oci/registry/upload.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { tempDir } from './fixtures.js';

const MiB = 1024 * 1024;
let reg: TestRegistry;
let dir: string;
let n = 0;

beforeAll(async () => {
  reg = await startRegistry();
  dir = await tempDir('ferry-push-body-');
}, 60_000);

afterAll(async () => {
  await reg?.stop();
  await fsp.rm(dir, { recursive: true, force: true });
});

/** Upload `onStick` (the file's bytes) as the blob whose true bytes are `bytes`. */
async function push(bytes: Buffer, onStick: Buffer | undefined): Promise<{ c: RegistryClient; desc: { mediaType: string; digest: string; size: number }; result: Promise<unknown> }> {
  const c = await RegistryClient.open(parseRegistryRef(`${reg.host}/body${n++}:1`), { tlsVerify: false });
  const desc = { mediaType: 'application/octet-stream', digest: sha256Digest(bytes), size: bytes.length };
  const file = path.join(dir, `blob${n}`);
  if (onStick) await fsp.writeFile(file, onStick);
  // parts (the opener) are never used here: the blob is far below the 1 GiB threshold
  return { c, desc, result: pushBlob(c, desc, bytesOpener(Buffer.alloc(0)), undefined, {}, stickBlobBody(file, dir, desc, 'blob')) };
}

describe('stickBlobBody (push in one request)', () => {
  it('uploads a blob of several chunks and a short last one, byte for byte', async () => {
    const bytes = randomBytes(9 * MiB + 12345);
    const { c, desc, result } = await push(bytes, bytes);
    expect(await result).toBe('uploaded');
    expect((await readCapped((await c.blob(desc.digest, 0)).res, desc.size + 1, 'blob')).equals(bytes)).toBe(true);
    c.close();
  });

  it('refuses an altered blob before its last chunk is sent: nothing stored', async () => {
    for (const at of [100, 9 * MiB + 5]) {
      const bytes = randomBytes(9 * MiB + 12345);
      const altered = Buffer.from(bytes);
      altered[at] = altered[at]! ^ 1;
      const { c, desc, result } = await push(bytes, altered);
      await expect(result).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' });
      expect(await hasBlob(c, desc.digest)).toBe(false);
      c.close();
    }
  });

  it('refuses a file of another size (SIZE_MISMATCH) and a missing one (BLOB_MISSING)', async () => {
    const bytes = randomBytes(5 * MiB);
    const longer = await push(bytes, Buffer.concat([bytes, Buffer.from('x')]));
    await expect(longer.result).rejects.toMatchObject({ code: 'SIZE_MISMATCH' });
    const missing = await push(bytes, undefined);
    await expect(missing.result).rejects.toMatchObject({ code: 'BLOB_MISSING' });
    expect(await hasBlob(missing.c, missing.desc.digest)).toBe(false);
    longer.c.close();
    missing.c.close();
  });
});
