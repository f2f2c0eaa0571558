/**
 * Hostile-stick corpus, attacker (b): a legitimate signer exports and signs a crafted
 * image with the test PKI. Path and link escapes in every tar header form, whiteout
 * tricks, lying size fields. Each is refused with UNSAFE_PATH or CORRUPT_ARCHIVE before
 * anything lands outside the target slot (table: test/hostile/README.md).
 */
import type { ErrorCode } from '../../src/errors.js';
import type { Jail } from '../helpers/hostile-device.js';
import { base256SizeEntry, extendedHeader, gnuLongLinkEntry, paxRecord, rawArchive, rawPaxEntry, ustarPrefixEntry } from '../helpers/hostile-tar.js';
import { type RawEntry, tarArchive, tarEntryBytes, type TestLayer } from '../helpers/layers.js';
import type { HostileCase } from './harness.js';

const L = (...entries: RawEntry[]): TestLayer => ({ tar: tarArchive(entries) });
const R = (...parts: Buffer[]): TestLayer => ({ tar: rawArchive(parts) });
const PWNED = 'pwned by a hostile stick\n';
/** A lower layer with a little content, for whiteouts to act on. */
const BASE = L({ name: 'etc/', type: '5' }, { name: 'etc/passwd', data: 'root:x:0:0\n' }, { name: 'var/', type: '5' });

function signed(name: string, tries: string, expect: ErrorCode | 'ok', layers: (j: Jail) => TestLayer[]): HostileCase {
  return {
    name,
    attacker: 'signer',
    tries,
    expect,
    async stick({ hk, jail }) {
      const media = await hk.newMedia();
      await hk.publish(media, { layers: layers(jail), version: '6.6.6', counter: 666 });
      return media;
    },
  };
}

/** Every case of this group (the test files pick them by name). */
export const LAYER_CASES: HostileCase[] = [
  // Path escapes, one per header form. The target slot is <root>/slots/b: "../canary" is the slots' sibling canary.
  signed('ustar-name-dotdot', 'ustar name ../canary/canary', 'UNSAFE_PATH', () => [L({ name: '../canary/canary', data: PWNED })]),
  signed('ustar-prefix-dotdot', 'ustar prefix field ../../canary + name canary', 'UNSAFE_PATH', () => [R(ustarPrefixEntry('../../canary', { name: 'canary', data: PWNED }))]),
  signed('ustar-prefix-absolute', 'ustar prefix field = absolute canary dir', 'UNSAFE_PATH', (j) => [R(ustarPrefixEntry(j.rootCanary, { name: 'canary', data: PWNED }))]),
  signed('absolute-name', 'absolute ustar name of the canary', 'UNSAFE_PATH', (j) => [L({ name: `${j.rootCanary}/canary`, data: PWNED })]),
  signed('dotdot-dir', 'a directory entry named ".."', 'UNSAFE_PATH', () => [L({ name: '..', type: '5', mode: 0o777 })]),
  signed('pax-path-dotdot', 'pax path ../canary/canary behind an innocent name', 'UNSAFE_PATH', () => [L({ name: 'innocent', data: PWNED, pax: { path: '../canary/canary' } })]),
  signed('pax-path-two-spaces', 'finding 1: "NN  path=" (two spaces) through a lower-layer symlink', 'CORRUPT_ARCHIVE', (j) => [
    L({ name: 'lnk', type: '2', linkname: j.slotsCanary }),
    R(rawPaxEntry(['  path=lnk/canary'], { name: 'innocent', data: PWNED })),
  ]),
  signed('pax-path-duplicate', 'two pax path records, the second ../ (GNU tar takes the last)', 'CORRUPT_ARCHIVE', () => [R(rawPaxEntry([' path=ok', ' path=../canary/canary'], { name: 'innocent', data: PWNED }))]),
  signed('pax-path-nul', 'a NUL inside a pax path', 'UNSAFE_PATH', () => [L({ name: 'x', data: PWNED, pax: { path: Buffer.from('ok\0/../../canary/canary', 'latin1') } })]),
  signed('pax-stacked', 'two pax headers before one entry (safe, then ../)', 'CORRUPT_ARCHIVE', () => [
    R(extendedHeader('x', paxRecord(' path=ok')), rawPaxEntry([' path=../canary/canary'], { name: 'innocent', data: PWNED })),
  ]),
  signed('pax-global-path', 'a global pax header with path=../ (GNU tar applies it to later entries)', 'CORRUPT_ARCHIVE', () => [R(extendedHeader('g', paxRecord(' path=../canary/canary')), tarEntryBytes({ name: 'innocent', data: 'harmless\n' }))]),
  signed('pax-linkpath-dotdot', 'pax linkpath ../ on a hardlink', 'UNSAFE_PATH', () => [L({ name: 'h', type: '1', linkname: 'ok', pax: { linkpath: '../canary/canary' } })]),
  signed('pax-path-and-gnu-longname', 'a pax path and a GNU long name on one entry', 'CORRUPT_ARCHIVE', () => [L({ name: 'x', data: PWNED, pax: { path: 'ok' }, gnuLongName: '../canary/canary' })]),
  signed('gnu-longname-dotdot', 'GNU long name (L) ../canary/canary', 'UNSAFE_PATH', () => [L({ name: 'innocent', data: PWNED, gnuLongName: '../canary/canary' })]),
  signed('gnu-longlink-dotdot', 'GNU long link (K) ../ on a hardlink', 'UNSAFE_PATH', () => [R(gnuLongLinkEntry('../canary/canary', { name: 'h', type: '1', linkname: 'ok' }))]),
  signed('hardlink-dotdot', 'hardlink to ../canary/canary', 'UNSAFE_PATH', () => [L({ name: 'h', type: '1', linkname: '../canary/canary' })]),
  signed('hardlink-running-slot', 'hardlink to a file of the running slot (absolute)', 'UNSAFE_PATH', (j) => [L({ name: 'h', type: '1', linkname: `${j.slotDir('A')}/etc/passwd` })]),
  signed('symlink-then-write', 'symlink to the canary dir in layer 1, a file through it in layer 2', 'UNSAFE_PATH', (j) => [
    L({ name: 'lnk', type: '2', linkname: j.slotsCanary }),
    L({ name: 'lnk/canary', data: PWNED }),
  ]),
  signed('symlink-trust-then-write', 'symlink to the trust roots in layer 1, a new root pem through it in layer 2', 'UNSAFE_PATH', (j) => [
    L({ name: 'etc/', type: '5' }, { name: 'etc/ferry', type: '2', linkname: `${j.dev.trustDir}/roots` }),
    L({ name: 'etc/ferry/evil.pem', data: '-----BEGIN CERTIFICATE-----\n' }),
  ]),
  signed('symlink-running-then-write', 'symlink to the running slot in layer 1, overwrite its passwd in layer 2', 'UNSAFE_PATH', (j) => [
    L({ name: 'sys', type: '2', linkname: `${j.slotDir('A')}/etc` }),
    L({ name: 'sys/passwd', data: PWNED }),
  ]),
  signed('symlink-parent-then-write', 'relative symlink ".." in layer 1, up/canary/canary in layer 2', 'UNSAFE_PATH', () => [
    L({ name: 'up', type: '2', linkname: '..' }),
    L({ name: 'up/canary/canary', data: PWNED }),
  ]),
  signed('symlink-then-hardlink', 'symlink to the canary dir, then a hardlink through it', 'UNSAFE_PATH', (j) => [L({ name: 'lnk', type: '2', linkname: j.slotsCanary }), L({ name: 'h', type: '1', linkname: 'lnk/canary' })]),
  signed('symlink-then-dir-chmod', 'symlink to the canary dir, then a 0777 directory entry of the same name', 'UNSAFE_PATH', (j) => [
    L({ name: 'lnk', type: '2', linkname: j.slotsCanary }, { name: 'lnk/', type: '5', mode: 0o777 }),
  ]),
  signed('root-as-symlink', 'an entry that replaces the slot root with a symlink', 'UNSAFE_PATH', (j) => [L({ name: './', type: '2', linkname: j.slotsCanary })]),
  // Whiteouts.
  signed('whiteout-dotdot', 'whiteout of etc/.. (the slot root) in layer 2', 'UNSAFE_PATH', () => [BASE, L({ name: 'etc/.wh...' })]),
  signed('whiteout-root', 'whiteout of "." at the top', 'UNSAFE_PATH', () => [BASE, L({ name: '.wh..' })]),
  signed('whiteout-escape', 'whiteout whose name walks out (.wh.../canary/canary)', 'UNSAFE_PATH', () => [BASE, L({ name: '../canary/.wh.canary' })]),
  signed('whiteout-below-symlink', 'symlink to the canary dir, then lnk/.wh.canary', 'UNSAFE_PATH', (j) => [L({ name: 'lnk', type: '2', linkname: j.slotsCanary }), L({ name: 'lnk/.wh.canary' })]),
  signed('opaque-via-symlink', 'symlink to the canary dir, then lnk/.wh..wh..opq', 'UNSAFE_PATH', (j) => [L({ name: 'lnk', type: '2', linkname: j.slotsCanary }), L({ name: 'lnk/.wh..wh..opq' })]),
  signed('whiteout-absolute-running', 'absolute whiteout of the running slot passwd', 'UNSAFE_PATH', (j) => [BASE, L({ name: `${j.slotDir('A')}/etc/.wh.passwd` })]),
  // Lying size fields.
  signed('tar-size-negative', 'base-256 size field of -1', 'CORRUPT_ARCHIVE', () => [R(base256SizeEntry(-1n, { name: 'neg', data: 'x' }))]),
  signed('tar-size-huge', 'base-256 size field of 2^80', 'CORRUPT_ARCHIVE', () => [R(base256SizeEntry(1n << 80n, { name: 'huge', data: 'x' }))]),
  signed('tar-size-past-end', 'size field of 1 TiB on a short archive', 'CORRUPT_ARCHIVE', () => [R(base256SizeEntry(1n << 40n, { name: 'big', data: 'x' }))]),
  signed('pax-size-negative', 'pax size=-1', 'CORRUPT_ARCHIVE', () => [R(rawPaxEntry([' size=-1'], { name: 'neg', data: 'x' }))]),
  signed('pax-size-huge', 'pax size of 10^20', 'CORRUPT_ARCHIVE', () => [R(rawPaxEntry([' size=100000000000000000000'], { name: 'huge', data: 'x' }))]),
  signed('pax-size-two-spaces', 'finding 1: "NN  size=512" hides an entry from the gate (lnk/pwned through a symlink)', 'CORRUPT_ARCHIVE', (j) => [
    L({ name: 'lnk', type: '2', linkname: j.slotsCanary }),
    R(rawPaxEntry(['  size=512'], { name: 'decoy', data: '' }), tarEntryBytes({ name: 'ok', data: tarEntryBytes({ name: 'lnk/pwned', data: '' }) })),
  ]),
];

