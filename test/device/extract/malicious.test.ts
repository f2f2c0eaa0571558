import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { applyImageToDir } from '../../../src/device/extract/apply.js';
import { type RawEntry, tarArchive, tarEntryBytes, writeTestLayout } from '../../helpers/layers.js';

// Layout of every test: <tmp>/jail/root is the slot; <tmp>/outside holds canaries that
// must never change; anything new appearing in <tmp> or <tmp>/jail is an escape.
let tmp: string;
let root: string;
let outside: string;
const CANARY = 'canary: do not touch\n';

beforeEach(async () => {
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'ferry-evil-'));
  root = path.join(tmp, 'jail', 'root');
  outside = path.join(tmp, 'outside');
  await fsp.mkdir(root, { recursive: true });
  await fsp.mkdir(outside);
  await fsp.writeFile(path.join(outside, 'canary'), CANARY, { mode: 0o644 });
});
afterEach(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
});

function expectNothingEscaped(): void {
  expect(fs.readFileSync(path.join(outside, 'canary'), 'utf8')).toBe(CANARY);
  const st = fs.statSync(path.join(outside, 'canary'));
  expect([st.nlink, st.mode & 0o7777, st.uid]).toEqual([1, 0o644, 0]);
  expect(fs.readdirSync(outside).sort()).toEqual(['canary']);
  expect(fs.readdirSync(tmp).sort()).toEqual(['jail', 'oci', 'outside']);
  expect(fs.readdirSync(path.join(tmp, 'jail'))).toEqual(['root']);
}

async function applyLayers(...layers: RawEntry[][]): Promise<unknown> {
  const { layout, image } = await writeTestLayout(
    path.join(tmp, 'oci'),
    layers.map((entries) => ({ tar: tarArchive(entries) })),
  );
  return applyImageToDir({ layout, image, ref: 'evil', root, progress: () => undefined });
}

const rel = (): string => path.relative(root, outside); // "../../outside"

describe('applyImageToDir refuses layers that reach outside the slot root', () => {
  const cases: Array<[string, () => RawEntry[][]]> = [
    ['a "../" path', () => [[{ name: '../../outside/canary', data: 'pwned' }]]],
    ['a "../" path hidden in the middle', () => [[{ name: 'usr/../../../outside/canary', data: 'pwned' }]]],
    ['an absolute path', () => [[{ name: `${outside}/canary`, data: 'pwned' }]]],
    ['a symlink to / followed by an entry through it', () => [[{ name: 'evil', type: '2', linkname: '/' }, { name: `evil${outside}/canary`, data: 'pwned' }]]],
    ['a symlink to the parent followed by an entry below it', () => [[{ name: 'up', type: '2', linkname: '..' }, { name: 'up/../../outside/canary', data: 'x' }]]],
    ['a symlink to the parent followed by a plain name below it', () => [[{ name: 'up', type: '2', linkname: '../../outside' }, { name: 'up/canary', data: 'pwned' }]]],
    ['a directory entry over a symlink of the same layer', () => [[{ name: 'lnk', type: '2', linkname: outside }, { name: 'lnk/', type: '5', mode: 0o777 }]]],
    ['an entry below a symlink from a lower layer', () => [[{ name: 'lib', type: '2', linkname: outside }], [{ name: 'lib/canary', data: 'pwned' }]]],
    ['an entry below a lower-layer symlink whose name is not UTF-8', () => [[{ name: 'bin\xff\xfe', type: '2', linkname: outside }], [{ name: 'bin\xff\xfe/canary', data: 'pwned' }]]],
    ['a hardlink to ../../outside', () => [[{ name: 'h', type: '1', linkname: `${rel()}/canary` }]]],
    ['a hardlink to /etc/shadow', () => [[{ name: 'shadow', type: '1', linkname: '/etc/shadow' }]]],
    ['a hardlink through a symlinked directory', () => [[{ name: 'd', type: '2', linkname: outside }, { name: 'h', type: '1', linkname: 'd/canary' }]]],
    ['a hardlink through a symlinked directory from a lower layer', () => [[{ name: 'd', type: '2', linkname: outside }], [{ name: 'h', type: '1', linkname: 'd/canary' }]]],
    ['a whiteout of "../../x"', () => [[{ name: '.wh.../../outside/canary' }]]],
    ['a whiteout of ".."', () => [[{ name: 'a/.wh..' }]]],
    ['a whiteout below a symlink from a lower layer', () => [[{ name: 's', type: '2', linkname: outside }], [{ name: 's/.wh.canary' }]]],
    ['an opaque marker below a symlink from a lower layer', () => [[{ name: 's', type: '2', linkname: outside }], [{ name: 's/.wh..wh..opq' }]]],
    ['a device node named "../"', () => [[{ name: '../../outside/null', type: '3', devmajor: 1, devminor: 3 }]]],
    ['a pax path "../" behind an innocent header name', () => [[{ name: 'innocent', data: 'pwned', pax: { path: '../../outside/canary' } }]]],
    ['a pax linkpath "../" on a hardlink', () => [[{ name: 'h', type: '1', linkname: 'ok', pax: { linkpath: '../../outside/canary' } }]]],
    ['a GNU long name "../"', () => [[{ name: 'innocent', data: 'pwned', gnuLongName: '../../outside/canary' }]]],
    ['a NUL inside a pax path', () => [[{ name: 'x', data: 'pwned', pax: { path: Buffer.from('ok\0/../../../outside/canary', 'latin1') } }]]],
    ['an entry that would replace the root with a symlink', () => [[{ name: './', type: '2', linkname: outside }]]],
  ];
  for (const [what, layers] of cases) {
    it(`refuses ${what} with UNSAFE_PATH and writes nothing outside`, async () => {
      await expect(applyLayers(...layers())).rejects.toMatchObject({ code: 'UNSAFE_PATH' });
      expectNothingEscaped();
    });
  }

  const corrupt: Array<[string, RawEntry[]]> = [
    ['a GNU sparse entry', [{ name: 'sparse', type: 'S', data: 'x' }]],
    ['a pax GNU.sparse.name override', [{ name: 'x', data: 'y', pax: { 'GNU.sparse.name': '../../outside/canary', 'GNU.sparse.major': '1' } }]],
    ['a GNU dumpdir entry', [{ name: 'dump', type: 'D' }]],
    ['a directory entry claiming data (a parser-differential trick)', [{ name: 'd/', type: '5', size: 1024 }]],
    ['a pax path together with a GNU long name', [{ name: 'x', data: 'y', pax: { path: 'a' }, gnuLongName: 'b' }]],
  ];
  for (const [what, entries] of corrupt) {
    it(`refuses ${what} with CORRUPT_ARCHIVE`, async () => {
      await expect(applyLayers(entries)).rejects.toMatchObject({ code: 'CORRUPT_ARCHIVE' });
      expectNothingEscaped();
    });
  }

  it('refuses two pax headers before one entry (GNU tar applies only the last, ferry would check the first one\'s path)', async () => {
    const layer2 = Buffer.concat([
      tarEntryBytes({ name: 'PaxHeaders/1', type: 'x', data: '13 path=safe\n' }),
      tarEntryBytes({ name: 'PaxHeaders/2', type: 'x', data: '14 comment=hi\n' }),
      tarEntryBytes({ name: 'lnk/canary', data: 'pwned' }),
      Buffer.alloc(1024),
    ]);
    const { layout, image } = await writeTestLayout(path.join(tmp, 'oci'), [{ tar: tarArchive([{ name: 'lnk', type: '2', linkname: outside }]) }, { tar: layer2 }]);
    await expect(applyImageToDir({ layout, image, ref: 'evil', root, progress: () => undefined })).rejects.toMatchObject({ code: 'CORRUPT_ARCHIVE' });
    expectNothingEscaped();
  });

  it('reads the ustar prefix whatever the version bytes say, as GNU tar does (else tar writes prefix/name through a lower-layer symlink)', async () => {
    const entry = tarEntryBytes({ name: 'canary', data: 'pwned' });
    entry.write('lnk', 345, 'latin1'); // prefix
    entry.write('xx', 263, 'latin1'); // version: not "00", magic still "ustar\0"
    entry.write('        ', 148, 'latin1');
    let sum = 0;
    for (const b of entry.subarray(0, 512)) sum += b;
    entry.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
    const layer2 = Buffer.concat([entry, Buffer.alloc(1024)]);
    const { layout, image } = await writeTestLayout(path.join(tmp, 'oci'), [{ tar: tarArchive([{ name: 'lnk', type: '2', linkname: outside }]) }, { tar: layer2 }]);
    await expect(applyImageToDir({ layout, image, ref: 'evil', root, progress: () => undefined })).rejects.toMatchObject({ code: 'UNSAFE_PATH' });
    expectNothingEscaped();
  });

  it('refuses a header with a bad checksum with CORRUPT_ARCHIVE', async () => {
    const tar = tarArchive([{ name: 'ok', data: 'fine' }]);
    tar[10] = 0x41; // change the name without fixing the checksum
    const { layout, image } = await writeTestLayout(path.join(tmp, 'oci'), [{ tar }]);
    await expect(applyImageToDir({ layout, image, ref: 'x', root, progress: () => undefined })).rejects.toMatchObject({ code: 'CORRUPT_ARCHIVE' });
  });

  it('refuses an oversized pax header and an over-long name with FILE_TOO_LARGE', async () => {
    await expect(applyLayers([{ name: 'x', pax: { comment: 'a'.repeat(2 * 1024 * 1024) } }])).rejects.toMatchObject({ code: 'FILE_TOO_LARGE' });
    await expect(applyLayers([{ name: 'x', pax: { path: 'a/'.repeat(3000) } }])).rejects.toMatchObject({ code: 'FILE_TOO_LARGE' });
    expectNothingEscaped();
  });

  it('replaces a lower-layer symlink with a file, a directory or a whiteout without following it', async () => {
    await applyLayers(
      [
        { name: 'f', type: '2', linkname: `${outside}/canary` },
        { name: 'd', type: '2', linkname: outside },
        { name: 'w', type: '2', linkname: outside },
        { name: 'hl', type: '2', linkname: `${outside}/canary` },
      ],
      [{ name: 'f', data: 'replaced' }, { name: 'd/', type: '5', mode: 0o700 }, { name: 'd/inside', data: 'in d' }, { name: '.wh.w' }, { name: 'hl', type: '1', linkname: 'f' }],
    );
    expect(fs.readFileSync(path.join(root, 'f'), 'utf8')).toBe('replaced');
    expect(fs.lstatSync(path.join(root, 'd')).isDirectory()).toBe(true);
    expect(fs.readdirSync(path.join(root, 'd'))).toEqual(['inside']);
    expect(fs.existsSync(path.join(root, 'w'))).toBe(false);
    expect(fs.lstatSync(path.join(root, 'hl')).ino).toBe(fs.lstatSync(path.join(root, 'f')).ino);
    expectNothingEscaped();
    expect(fs.statSync(outside).mode & 0o777).toBe(0o755);
  });

  it('still accepts absolute symlink targets and hardlinks to earlier entries (normal in OS images)', async () => {
    await applyLayers([
      { name: 'usr/lib/libc.so.6', data: 'elf' },
      { name: 'lib', type: '2', linkname: '/usr/lib' },
      { name: 'usr/lib/libc-2.so', type: '1', linkname: 'usr/lib/libc.so.6' },
      { name: 'weird-but-fine', type: '2', linkname: '../../../../etc/shadow' },
    ]);
    expect(fs.readlinkSync(path.join(root, 'lib'))).toBe('/usr/lib');
    expect(fs.lstatSync(path.join(root, 'usr/lib/libc-2.so')).nlink).toBe(2);
    expectNothingEscaped();
  });
});
