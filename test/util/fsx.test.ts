import { execFileSync } from 'node:child_process';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { text } from 'node:stream/consumers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listMediaDir, mediaFileSize, openRegular, readFileCapped, streamRegular } from '../../src/util/fsx.js';
import { unblockFifos, within } from '../media/hostile-fixture.js';

let tmp: string;
beforeAll(async () => {
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'ferry-fsx-'));
  await fsp.mkdir(path.join(tmp, 'media', 'sub'), { recursive: true });
  await fsp.writeFile(path.join(tmp, 'media', 'sub', 'file'), '0123456789');
  execFileSync('mkfifo', [path.join(tmp, 'media', 'sub', 'fifo')]);
  await fsp.symlink(path.join(tmp, 'media', 'sub', 'file'), path.join(tmp, 'media', 'sub', 'link'));
  await fsp.symlink(path.join(tmp, 'media', 'sub'), path.join(tmp, 'media', 'dirlink'));
});
afterAll(async () => {
  unblockFifos(tmp);
  await fsp.rm(tmp, { recursive: true, force: true });
});

const m = (...p: string[]) => path.join(tmp, 'media', ...p);

describe('openRegular and readFileCapped', () => {
  it('never blocks on a FIFO: INVALID_LAYOUT for a local file, UNSAFE_MEDIA on media', async () => {
    await expect(within(readFileCapped(m('sub', 'fifo'), 100, 'config'), 5000)).rejects.toMatchObject({ code: 'INVALID_LAYOUT' });
    await expect(within(readFileCapped(m('sub', 'fifo'), 100, 'x', { media: true }), 5000)).rejects.toMatchObject({ code: 'UNSAFE_MEDIA' });
    await expect(within(readFileCapped(m('sub', 'fifo'), 100, 'x', { under: m() }), 5000)).rejects.toMatchObject({ code: 'UNSAFE_MEDIA', message: expect.stringMatching(/fifo is a FIFO \(named pipe\): do not use this stick; report it to headquarters$/) });
  });

  it('follows a link only where the file is not on media', async () => {
    expect((await readFileCapped(m('sub', 'link'), 100)).toString()).toBe('0123456789');
    await expect(readFileCapped(m('sub', 'link'), 100, 'x', { under: m() })).rejects.toMatchObject({ code: 'UNSAFE_MEDIA', message: expect.stringMatching(/is a symbolic link/) });
    await expect(readFileCapped(m('dirlink', 'file'), 100, 'x', { under: m() })).rejects.toMatchObject({ code: 'UNSAFE_MEDIA', message: expect.stringMatching(/dirlink is a symbolic link/) });
    expect((await readFileCapped(m('sub', 'file'), 100, 'x', { under: m() })).toString()).toBe('0123456789');
  });

  it('keeps ENOENT for a missing file and reports sizes of regular files only', async () => {
    await expect(openRegular(m('sub', 'nope'), 'x', { under: m() })).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await mediaFileSize(m(), m('sub', 'nope'))).toBeUndefined();
    expect(await mediaFileSize(m(), m('sub', 'file'))).toBe(10);
    await expect(mediaFileSize(m(), m('sub', 'fifo'))).rejects.toMatchObject({ code: 'UNSAFE_MEDIA' });
  });
});

describe('streamRegular', () => {
  it('streams a byte range, and fails the stream (not hangs it) on a FIFO or a link', async () => {
    expect(await text(streamRegular(m('sub', 'file'), 'x', { under: m(), start: 2, end: 5 }))).toBe('2345');
    expect(await text(streamRegular(m('sub', 'file'), 'x', { highWaterMark: 3 }))).toBe('0123456789');
    await expect(within(text(streamRegular(m('sub', 'fifo'), 'x', { under: m() })), 5000)).rejects.toMatchObject({ code: 'UNSAFE_MEDIA' });
    await expect(text(streamRegular(m('dirlink', 'file'), 'x', { under: m() }))).rejects.toMatchObject({ code: 'UNSAFE_MEDIA' });
    await expect(text(streamRegular(m('sub', 'gone'), 'x', { under: m() }))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('listMediaDir', () => {
  it('lists a real folder, refuses a linked one, caps the count and says undefined when absent', async () => {
    expect((await listMediaDir(m(), m('sub'), 10))!.map((e) => e.name).sort()).toEqual(['fifo', 'file', 'link']);
    await expect(listMediaDir(m(), m('dirlink'), 10)).rejects.toMatchObject({ code: 'UNSAFE_MEDIA' });
    await expect(listMediaDir(m(), m('sub'), 2)).rejects.toMatchObject({ code: 'LIMIT_EXCEEDED' });
    expect(await listMediaDir(m(), m('absent'), 10)).toBeUndefined();
  });
});
