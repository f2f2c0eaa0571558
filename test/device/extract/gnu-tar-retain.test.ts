import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { NODE_FLAGS } from '../../../src/node-flags.js';

// A write that waited for tar's pipe raced 'drain' against a `.then` made inside write(), on tar's
// exit promise; that kept the chunks of waiting writes from being freed as they went, and the
// 4 GiB image's apply peaked at 205 MiB, a library write of a 256 MiB image at 305 MiB (bench/results/
// 2026-12-02-s22-4G-rss.md). Here 375 MiB of chunks go through a slow stand-in tar in a child process
// (from dist/, built by `npm test`, with the flags every ferry process runs with): measured 432 MiB
// peak before the fix, 91 MiB after.
const CHILD = path.resolve('dist/test/device/extract/gnu-tar-retain-child.js');

describe('TarExtractor.write', () => {
  it('frees each written chunk as it goes while tar runs on (peak RSS well under the 375 MiB written)', () => {
    const r = spawnSync(path.resolve('node_modules/.bin/node'), [...NODE_FLAGS, CHILD], { encoding: 'utf8', timeout: 300_000 });
    expect(r.status, r.stderr).toBe(0);
    const got = JSON.parse(r.stdout) as { maxRssMiB: number; waits: number };
    // the case is only a case if writes really waited for the pipe
    expect(got.waits).toBeGreaterThan(1000);
    expect(got.maxRssMiB).toBeLessThan(200);
  });
});
