import { describe, expect, it } from 'vitest';
import { isFerryError } from '../../../src/errors.js';
import { TarSanitizer, type TarEntry } from '../../../src/device/extract/tar-sanitizer.js';
import { fuzzCase } from './tar-fuzz.js';
import { gnuTarList, type ListedEntry, parseListing } from './tar-walk.js';

// Differential fuzzing of ferry's tar reader against GNU tar (issue 9): for every generated
// archive, either ferry refuses it with a typed error, or ferry's parsed view of every entry
// (name, type, link, size, mode, uid, gid) equals what `tar -tv` lists; and ferry's canonical
// re-encoding, listed by GNU tar, gives exactly ferry's view again.
// Replay or run more: FERRY_FUZZ_SEED=<seed> FERRY_FUZZ_CASES=<n> (FERRY_FUZZ_CASE=<i> for one case).
const SEED = Number(process.env.FERRY_FUZZ_SEED ?? 20261201);
const CASES = Number(process.env.FERRY_FUZZ_CASES ?? 300);
const ONLY = process.env.FERRY_FUZZ_CASE === undefined ? undefined : Number(process.env.FERRY_FUZZ_CASE);

const TYPE: Record<TarEntry['kind'], string> = { file: '-', hardlink: 'h', symlink: 'l', char: 'c', block: 'b', dir: 'd', fifo: 'p' };

/** ferry's view of an entry in the terms `tar -tv` uses. */
function view(e: TarEntry): Omit<ListedEntry, 'mtime'> {
  const dev = e.kind === 'char' || e.kind === 'block';
  return { type: TYPE[e.kind], mode: e.mode, uid: e.uid, gid: e.gid, size: dev ? `${e.devmajor},${e.devminor}` : String(e.kind === 'file' ? e.size : 0), name: e.path, link: e.link };
}

/** A listing in the same terms; GNU tar lists a contiguous file ('7') as "C" and extracts it as a regular file. */
function listedView(l: ListedEntry): Omit<ListedEntry, 'mtime'> {
  const { mtime: _mtime, ...rest } = l;
  return { ...rest, type: rest.type === 'C' ? '-' : rest.type };
}

/** Run ferry's sanitiser on a whole archive: its entries and canonical output, or the refusal's code. */
async function ferryRead(tar: Buffer): Promise<{ entries: TarEntry[]; out: Buffer } | { refused: string }> {
  const entries: TarEntry[] = [];
  const out: Buffer[] = [];
  const s = new TarSanitizer('fuzz', { admit: (e) => (entries.push(e), 'pass') }, { write: async (c) => void out.push(...c.map((b) => Buffer.from(b))) });
  try {
    await s.push(tar);
    await s.finish();
  } catch (e) {
    if (!isFerryError(e)) throw e;
    return { refused: e.code };
  }
  return { entries, out: Buffer.concat(out) };
}

describe(`tar reader differential against GNU tar (seed ${SEED}, ${ONLY === undefined ? CASES : 1} cases)`, () => {
  it('ferry refuses, or agrees with GNU tar on every entry; its re-encoding lists as ferry read it', async () => {
    const stats = { refused: 0, agreed: 0 };
    const failures: string[] = [];
    for (let i = ONLY ?? 0; i < (ONLY === undefined ? CASES : ONLY + 1); i++) {
      const { tar, steps } = fuzzCase(SEED, i);
      const replay = `replay: FERRY_FUZZ_SEED=${SEED} FERRY_FUZZ_CASE=${i}; steps: ${steps.join('; ') || 'none'}`;
      const ferry = await ferryRead(tar);
      if ('refused' in ferry) {
        if (!['CORRUPT_ARCHIVE', 'UNSAFE_PATH', 'FILE_TOO_LARGE'].includes(ferry.refused)) failures.push(`ferry refused with ${ferry.refused}; ${replay}`);
        stats.refused++;
        continue;
      }
      const mine = JSON.stringify(ferry.entries.map(view));
      const listed = gnuTarList(tar);
      const theirs = listed && JSON.stringify(parseListing(listed).map(listedView));
      const canonical = gnuTarList(ferry.out);
      const again = canonical && JSON.stringify(parseListing(canonical).map(listedView));
      if (theirs !== mine) failures.push(`GNU tar reads another archive than ferry; ${replay}\n  ferry:   ${mine}\n  GNU tar: ${theirs ?? '(fails)'}`);
      else if (again !== mine) failures.push(`ferry's re-encoding lists differently; ${replay}\n  ferry:   ${mine}\n  GNU tar: ${again ?? '(fails)'}`);
      else stats.agreed++;
    }
    expect(failures.slice(0, 10).join('\n')).toBe('');
    // the generator must exercise both outcomes, or the test proves nothing
    if (ONLY === undefined) {
      expect(stats.refused).toBeGreaterThan(CASES / 10);
      expect(stats.agreed).toBeGreaterThan(CASES / 10);
    }
  });
});
