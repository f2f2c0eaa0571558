import { createHash, randomBytes } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChunkDigester } from '../../src/oci/chunk-hasher-parallel.js';
import { DEFAULT_CHUNK_SIZE } from '../../src/oci/chunk-index.js';
import { copyRangeVerified } from '../../src/oci/range-copy.js';
import { EarlyWriteback, WRITEBACK_STEP } from '../../src/util/writeback.js';

let tmp: string;
beforeAll(async () => {
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'ferry-writeback-'));
});
afterAll(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
});

const MiB = 1024 * 1024;

/** The real file's datasync, counted: how many ran and the most that ran at once. */
function counted(fh: fsp.FileHandle): { datasync: () => Promise<void>; calls: number; maxInFlight: number } {
  let inFlight = 0;
  const c = {
    calls: 0,
    maxInFlight: 0,
    datasync: async () => {
      c.calls++;
      c.maxInFlight = Math.max(c.maxInFlight, ++inFlight);
      try {
        await fh.datasync();
      } finally {
        inFlight--;
      }
    },
  };
  return c;
}

describe('EarlyWriteback', () => {
  it('asks for writeback once per step written, never two at once, and not below the step', async () => {
    const fh = await fsp.open(path.join(tmp, 'steps'), 'wx');
    try {
      const c = counted(fh);
      const wb = new EarlyWriteback(c, 4 * MiB);
      const buf = randomBytes(MiB);
      for (let i = 0; i < 3; i++) {
        await fh.write(buf);
        wb.wrote(buf.length);
      }
      expect(c.calls).toBe(0); // 3 MiB < the 4 MiB step
      for (let i = 0; i < 13; i++) {
        await fh.write(buf);
        wb.wrote(buf.length);
      }
      await wb.settle();
      // 16 MiB written: one request at 4 MiB, then one per further 4 MiB unless the last still ran
      expect(c.calls).toBeGreaterThanOrEqual(1);
      expect(c.calls).toBeLessThanOrEqual(4);
      expect(c.maxInFlight).toBe(1);
    } finally {
      await fh.close();
    }
  });

  it('reports a failed writeback from settle(), so the copy fails instead of naming the file', async () => {
    const fh = await fsp.open(path.join(tmp, 'closed'), 'wx');
    await fh.close();
    const wb = new EarlyWriteback(fh, MiB);
    wb.wrote(MiB); // datasync on a closed handle fails
    await expect(wb.settle()).rejects.toMatchObject({ code: 'EBADF' });
  });

  it('a verified copy over several steps writes exactly the source bytes', async () => {
    const size = WRITEBACK_STEP + 3 * MiB + 17;
    const src = path.join(tmp, 'src.bin');
    const data = randomBytes(size);
    await fsp.writeFile(src, Buffer.concat([Buffer.from('head'), data]));
    const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
    const dest = path.join(tmp, 'dest.bin');
    const chunks = new ChunkDigester(DEFAULT_CHUNK_SIZE, 2);
    await copyRangeVerified({ file: src, start: 4, size }, dest, { mediaType: 'application/octet-stream', digest, size }, 'blob', chunks);
    expect((await chunks.finish()).length).toBe(Math.ceil(size / DEFAULT_CHUNK_SIZE));
    expect((await fsp.readFile(dest)).equals(data)).toBe(true);
  });
});
