/**
 * Run in a child node process by gnu-tar-retain.test.ts (from dist/): writes 3,000 fresh
 * 128 KiB chunks to a TarExtractor whose "tar" reads slowly, so that nearly every write
 * waits for the pipe, and prints {"maxRssMiB", "waits"}.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { TarExtractor } from '../../../src/device/extract/gnu-tar.js';

const dir = mkdtempSync(path.join(tmpdir(), 'ferry-tar-retain-'));
const slowTar = path.join(dir, 'slow-tar');
// reads its stdin 64 KiB at a time until it is closed, like a tar busy writing files
writeFileSync(slowTar, '#!/bin/sh\nwhile dd bs=65536 count=1 status=none of=/dev/null; do :; done\n');
chmodSync(slowTar, 0o755);
try {
  const tar = new TarExtractor(dir, 'layer 1/1', slowTar);
  let waits = 0;
  for (let i = 0; i < 3000; i++) {
    const chunk = Buffer.alloc(128 * 1024, i);
    const t = process.hrtime.bigint();
    await tar.write([chunk.subarray(0, 64 * 1024), chunk.subarray(64 * 1024)]);
    if (process.hrtime.bigint() - t > 50_000n) waits++;
  }
  await tar.written();
  await tar.kill();
  process.stdout.write(JSON.stringify({ maxRssMiB: Math.round(process.resourceUsage().maxRSS / 1024), waits }) + '\n');
} finally {
  rmSync(dir, { recursive: true, force: true });
}
