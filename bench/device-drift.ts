/**
 * Drift rows: `ferry device drift` (the built CLI) over slot B of the incremental-apply
 * device, which holds 1.1.0 installed as that row installs it (1.0.0, then the update).
 * Full mode hashes every regular file, against `sha256sum` and `openssl dgst -sha256` over
 * every regular file of the slot (`find -type f | xargs`); `--fast` only stats the tree and
 * reads its xattrs, against `find -printf` of every entry plus `getfattr -R`. The point of the
 * rows is peak RSS (issue 14: ≤ 200 MiB, flat with size); no time target.
 */
import { join } from 'node:path';
import { ferryArgv } from './ferry.js';
import type { Comparison, Contender } from './harness.js';
import type { SizeInputs } from './inputs.js';
import { RSS_TARGET_MIB } from './ops.js';
import { runChecked, runProc } from './proc.js';

/** The rows this file adds (both name the incremental apply: `--only "incremental apply"` runs them with it, on the same device). */
export const DRIFT_OP = 'device drift of the slot the incremental apply wrote (hash every file)';
export const DRIFT_FAST_OP = 'device drift --fast of the slot the incremental apply wrote';

/** What the drift rows need of the incremental row's device. */
export interface DriftDevice {
  /** The device's folder (slots/b is the slot checked). */
  dir: string;
  config: string;
  env: NodeJS.ProcessEnv;
  /** Install `ids` onto slot B in order, on a fresh device (untimed). */
  install: (ids: string[]) => Promise<void>;
}

/** The `--json` answer of `ferry device drift`, as far as the check reads it. */
interface DriftJson {
  ok: boolean;
  drift?: { clean: boolean; entriesChecked: number; filesHashed: number; bytesHashed: number };
}

/** Drift (full and --fast) against the same work by standard tools; `dev` is the device or why there is none. */
export function driftComparisons(inputs: SizeInputs, dev: DriftDevice | string, ids: { from: string; to: string }, wanted: (op: string) => boolean): Comparison[] {
  const ops = [DRIFT_OP, DRIFT_FAST_OP].filter(wanted);
  if (ops.length === 0) return [];
  if (typeof dev === 'string') return ops.map((op) => notRunRow(inputs, op, dev));
  const slot = join(dev.dir, 'slots', 'b');
  const argv = (fast: boolean) => [...ferryArgv(), 'device', 'drift', '--config', dev.config, '--slot', 'B', '--json', ...(fast ? ['--fast'] : [])];
  let ready = false;
  // slot B must hold 1.1.0 with this device's index: the incremental row leaves it so; when it did not run, install it the same way
  const prepare = async () => {
    if (ready) return;
    const probe = await runProc(argv(true)[0] as string, argv(true).slice(1), { env: dev.env });
    if (probe.code !== 0 || !(JSON.parse(probe.stdout || '{}') as DriftJson).ok) await dev.install([ids.from, ids.to]);
    ready = true;
  };
  const target = { maxRssMiB: RSS_TARGET_MIB };
  const sh = (name: string, script: string): Contender => ({ name, prepare, argv: () => ['sh', '-c', script, slot] });
  const rows: Comparison[] = [
    {
      op: DRIFT_OP, size: inputs.sizeLabel, inputBytes: inputs.rootfsBytes,
      ferry: { name: 'ferry device drift', prepare, argv: () => argv(false), env: dev.env },
      peers: [
        { contender: sh('sha256sum of every regular file (find | xargs)', 'find "$0" -xdev -type f -print0 | xargs -0 -r sha256sum > /dev/null'), target },
        { contender: sh('openssl dgst -sha256 of every regular file (find | xargs)', 'find "$0" -xdev -type f -print0 | xargs -0 -r openssl dgst -sha256 > /dev/null'), target },
      ],
      notes: () => 'walk + lstat + xattrs of every entry, SHA-256 of every regular file; MB/s counts rootfs bytes',
      check: () => checkDrift(argv(false), dev.env, slot, false),
    },
    {
      op: DRIFT_FAST_OP, size: inputs.sizeLabel, inputBytes: inputs.rootfsBytes,
      ferry: { name: 'ferry device drift --fast', prepare, argv: () => argv(true), env: dev.env },
      peers: [
        { contender: sh('find -printf (lstat of every entry) + getfattr -R', 'find "$0" -xdev -printf "%m %U %G %s %T@ %y %p\\n" > /dev/null && getfattr -R -h -d -m - -e hex --absolute-names "$0" > /dev/null'), target },
      ],
      notes: () => 'walk + lstat + xattrs of every entry; size and mtime match, so nothing is hashed',
      check: () => checkDrift(argv(true), dev.env, slot, true),
    },
  ];
  return rows.filter((c) => wanted(c.op));
}

function notRunRow(inputs: SizeInputs, op: string, why: string): Comparison {
  const side = (name: string): Contender => ({ name, notRun: why, argv: () => [] });
  return { op, size: inputs.sizeLabel, inputBytes: inputs.rootfsBytes, ferry: side('ferry device drift'), peers: [{ contender: side('sha256sum / find'), target: { maxRssMiB: RSS_TARGET_MIB } }] };
}

/**
 * Throw unless drift finds the slot clean having done the peers' work: in full mode it hashed
 * every regular file (as many as `find -type f` lists, their bytes in all), in --fast none.
 */
async function checkDrift(argv: string[], env: NodeJS.ProcessEnv, slot: string, fast: boolean): Promise<void> {
  const r = JSON.parse((await runChecked(argv[0] as string, argv.slice(1), { env })).stdout) as DriftJson;
  if (!r.ok || !r.drift?.clean) throw new Error('drift did not find the slot clean');
  const files = (await runChecked('find', [slot, '-xdev', '-type', 'f', '-printf', '%s\\n'])).stdout.split('\n').filter(Boolean).map(Number);
  const want = fast ? { files: 0, bytes: 0 } : { files: files.length, bytes: files.reduce((a, b) => a + b, 0) };
  if (r.drift.filesHashed !== want.files || r.drift.bytesHashed !== want.bytes) {
    throw new Error(`drift hashed ${r.drift.filesHashed} files (${r.drift.bytesHashed} bytes), expected ${want.files} (${want.bytes} bytes)`);
  }
}
