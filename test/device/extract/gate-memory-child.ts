/**
 * Run in a child node process by gate-memory.test.ts (from dist/): feeds a LayerGate
 * many entries and prints {"maxRssMiB", "code"} so the parent can check the peak RSS
 * of a process that did nothing else.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LayerGate } from '../../../src/device/extract/layer-gate.js';
import type { TarEntry } from '../../../src/device/extract/tar-sanitizer.js';

const file = (p: string): TarEntry => ({ path: p, kind: 'file', link: '', size: 0, uid: 0, gid: 0, mode: 0o644, mtime: '0', devmajor: 0, devminor: 0, xattrs: [] });
const dir = (p: string): TarEntry => ({ ...file(p), kind: 'dir', mode: 0o755 });

/** 1,000,000 entries over a non-empty root: 1,000 directories of 999 files, every 10th a whiteout. */
function* many(): Generator<TarEntry> {
  for (let i = 0; i < 1000; i++) {
    yield dir(`usr/share/package-${i}`);
    for (let j = 0; j < 999; j++) yield file(j % 10 === 9 ? `usr/share/package-${i}/.wh.old-${j}` : `usr/share/package-${i}/file-number-${j}.txt`);
  }
}

/** 3,000 whiteouts, each 2,000 components deep below its own top directory (finding 4's stick). */
function* deepWhiteouts(): Generator<TarEntry> {
  for (let i = 0; i < 3000; i++) yield file(`w${i}/${'a/'.repeat(2000)}.wh.x`);
}

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-gatemem-'));
fs.writeFileSync(path.join(root, 'lower'), 'a lower layer');
let code = 'OK';
let entries = 0;
try {
  const gate = new LayerGate(root, 'layer', false);
  for (const e of process.argv[2] === 'deep' ? deepWhiteouts() : many()) {
    gate.admit(e);
    entries++;
  }
} catch (e) {
  code = (e as { code?: string }).code ?? String(e);
} finally {
  fs.rmSync(root, { recursive: true, force: true });
}
process.stdout.write(`${JSON.stringify({ code, entries, maxRssMiB: Math.round(process.resourceUsage().maxRSS / 1024) })}\n`);
