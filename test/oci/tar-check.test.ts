import { execFileSync } from 'node:child_process';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { isFerryError } from '../../src/errors.js';
import { TarStructureCheck } from '../../src/oci/tar-check.js';
import { tinyLayerTar } from '../media/fixtures.js';

async function check(bytes: Buffer, chunk = 777): Promise<string | undefined> {
  const parts: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += chunk) parts.push(bytes.subarray(i, i + chunk));
  try {
    await pipeline(Readable.from(parts), new TarStructureCheck('layer'), async (s: AsyncIterable<Buffer>) => {
      for await (const _ of s);
    });
    return undefined;
  } catch (e) {
    return isFerryError(e) ? e.code : String(e);
  }
}

describe('TarStructureCheck', () => {
  it('passes GNU tar output in odd-sized chunks, including pax headers with long names', async () => {
    expect(await check(tinyLayerTar({ 'etc/a': 'x'.repeat(1000), 'b.txt': '' }))).toBeUndefined();
    const long = execFileSync('sh', ['-c', `d=$(mktemp -d); mkdir -p $d/${'x'.repeat(120)}; echo hi > $d/${'x'.repeat(120)}/${'y'.repeat(120)}; tar --format=posix -C $d -cf - .; rm -rf $d`], { maxBuffer: 1 << 24 });
    expect(await check(long, 100)).toBeUndefined();
  });

  it('refuses bytes that are not a tar, a tar cut short, and an empty stream', async () => {
    expect(await check(Buffer.alloc(2048, 0x41))).toBe('CORRUPT_ARCHIVE');
    const t = tinyLayerTar({ 'a.bin': 'z'.repeat(5000) });
    expect(await check(t.subarray(0, 3000))).toBe('CORRUPT_ARCHIVE');
    expect(await check(Buffer.alloc(0))).toBe('CORRUPT_ARCHIVE');
  });

  it('refuses a header whose checksum was altered', async () => {
    const t = Buffer.from(tinyLayerTar({ 'a.txt': 'hello' }));
    t[10] = t[10]! ^ 0x20; // a byte of the name, checksum now wrong
    expect(await check(t)).toBe('CORRUPT_ARCHIVE');
  });
});

describe('TarStructureCheck and writers that omit the end marker', () => {
  it('accepts a tar that ends right after its last member (as umoci writes them, and GNU tar reads them)', async () => {
    const t = tinyLayerTar({ 'a.txt': 'hello' });
    // header + one 512-byte data block, without the zero blocks
    expect(await check(t.subarray(0, 1024))).toBeUndefined();
    expect(await check(t.subarray(0, 700))).toBe('CORRUPT_ARCHIVE');
  });
});
