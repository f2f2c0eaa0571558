/** `ferry device drift`: compare a slot with the file index of its image (src/device/drift.ts does the work). */
import type { Command } from 'commander';
import { FerryError } from '../../errors.js';
import { DEFAULT_CONFIG_FILE, deviceDeps, drift, type DriftReport, type SlotName } from '../../device/index.js';
import { action, printJson, printLines, printNotes } from '../run.js';

interface DriftCliOptions {
  config: string;
  json?: boolean;
  slot?: SlotName;
  ignore: string[];
  fast?: boolean;
  media?: string;
}

function parseSlot(v: string): SlotName {
  if (v !== 'A' && v !== 'B') throw new FerryError('USAGE', `--slot must be A or B, not "${v}"`);
  return v;
}

/** The total of all differences. */
export function driftCount(r: DriftReport): number {
  return r.counts.added + r.counts.removed + r.counts.content + r.counts.metadata;
}

function entries(n: number): string {
  return n === 1 ? '1 entry differs' : `${n} entries differ`;
}

/** The report as lines for a person. */
export function formatDrift(r: DriftReport): string[] {
  const what = r.updateId ?? r.image;
  const head = `slot ${r.slot}: ${r.clean ? `matches ${what}` : `${driftCount(r)} differences from ${what}`} (${r.entriesChecked} entries, ${r.filesHashed} files hashed, index from ${r.indexFrom})`;
  const sign = { added: '+', removed: '-', content: 'M', metadata: 'm' } as const;
  const lines = r.items.map((i) => `${sign[i.change]} ${i.path}${i.details ? `  (${i.details.join(', ')})` : ''}`);
  const c = r.counts;
  const tail = r.clean ? [] : [`added ${c.added}, removed ${c.removed}, content changed ${c.content}, metadata changed ${c.metadata}${r.truncated ? ` (first ${r.items.length} listed)` : ''}`];
  return [head, ...lines, ...tail];
}

/** Register `ferry device drift` under `ferry device`. */
export function registerDrift(device: Command): void {
  device
    .command('drift')
    .description('compare a slot (default: the running one) with the file index of its image: added, removed and changed files (exit 6, DRIFT_FOUND, when any differ)')
    .option('--config <file>', 'device configuration file', DEFAULT_CONFIG_FILE)
    .option('--json', 'print the result as JSON')
    .option('--slot <slot>', 'A or B (default: the booted slot)', parseSlot)
    .option('--ignore <glob>', 'leave out paths matching this glob (e.g. "/var/**"); repeatable, added to drift.ignore of the config', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--fast', 'trust size and mtime: hash only files whose size or mtime differ')
    .option('--media <dir>', 'a stick: the drift receipt is written to it, and a signed file index on it (export --file-index) is used for a slot this device did not index')
    .action(
      action(async (opts: DriftCliOptions) => {
        const r = await drift(
          {
            configFile: opts.config,
            ...(opts.slot ? { slot: opts.slot } : {}),
            ignore: opts.ignore,
            ...(opts.fast ? { fast: true } : {}),
            ...(opts.media ? { mediaRoot: opts.media } : {}),
          },
          deviceDeps,
        );
        const err = r.clean ? undefined : new FerryError('DRIFT_FOUND', `slot ${r.slot}: ${entries(driftCount(r))} from ${r.updateId ?? r.image}; reinstall the update if the changes are not wanted`);
        if (opts.json) {
          printJson({ ok: r.clean, drift: r, ...(err ? { error: { code: err.code, message: err.message } } : {}) });
          return err?.exitCode ?? 0;
        }
        printLines(...formatDrift(r));
        if (r.delivery && r.delivery.kept > 0) printNotes(`ferry: ${r.delivery.kept} receipt(s) kept on the device: ${r.delivery.error ?? ''}`);
        if (err) throw err;
        return 0;
      }),
    );
}
