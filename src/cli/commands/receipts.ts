/** `ferry receipts …`: receipts back at headquarters (src/media/receipts-store/ does the work). */
import type { Command } from 'commander';
import { FerryError } from '../../errors.js';
import type { CollectResult } from '../../media/receipts-store/collect.js';
import { action, printJson, printLines, printNotes } from '../run.js';
import { registerReport } from './receipts-report.js';

function printCollect(r: CollectResult): void {
  printLines(
    `${r.found} receipt(s) on ${r.media} (site ${r.site}): ${r.added} new, ${r.duplicates} already stored${r.conflicts.length ? `, ${r.conflicts.length} conflicting` : ''}; the store holds ${r.storeTotal}`,
    ...(r.unsigned || r.badSignature.length ? [`signatures: ${r.badSignature.length} do not verify, ${r.unsigned} unsigned (reports mark them and leave them out)`] : []),
    ...(r.cleared ? [`removed ${r.cleared} stored receipt(s) from the stick`] : []),
  );
  printNotes(
    ...r.conflicts.map((f) => `ferry: warning: ${f}: a stored receipt has the same device, stamp and action but other bytes; kept aside, the stored one stands`),
    ...r.badSignature.map((f) => `ferry: warning: ${f}: its signature does not verify (changed after signing, or forged)`),
    ...r.ignored.map((x) => `ferry: ignored ${x.file}: ${x.problems.join('; ')}`),
    ...r.rejected.map((x) => `ferry: rejected ${x.file}: ${x.problems.join('; ')}`),
  );
}

function registerCollect(receipts: Command): void {
  receipts
    .command('collect')
    .description('copy every receipt from a stick into a receipts store (SQLite file), deduplicated; damaged or foreign files are listed and stay on the stick')
    .requiredOption('--media <dir>', 'the stick: the folder that holds FERRY/')
    .requiredOption('--into <file>', 'the receipts store (created when missing)')
    .option('--site <name>', 'the site this stick came back from, for per-site counts (default: the name of the --media folder)')
    .option('--clear', 'remove the stored receipts from the stick, after the store has durably committed them')
    .option('--json', 'print the result as JSON')
    .action(
      action(async (o: { media: string; into: string; site?: string; clear?: boolean; json?: boolean }) => {
        if (o.site !== undefined && !/^[^\p{Cc}]{1,128}$/u.test(o.site)) throw new FerryError('USAGE', '--site must be 1-128 printable characters');
        // loaded when collect runs: `receipts report` needs neither the collector nor the stick lock
        const [{ collectReceipts }, { hqWrite }] = await Promise.all([import('../../media/receipts-store/collect.js'), import('../cancel.js')]);
        const run = () => collectReceipts({ mediaRoot: o.media, storeFile: o.into, ...(o.site ? { site: o.site } : {}), clear: Boolean(o.clear) });
        const r = o.clear ? await hqWrite(o.media, 'receipts collect --clear', o, run) : await run();
        if (o.json) printJson({ ok: r.rejected.length === 0, ...r });
        else printCollect(r);
        if (r.rejected.length > 0) {
          const e = new FerryError('RECEIPT_REJECTED', `${r.rejected.length} file(s) under FERRY/receipts/ are not valid receipts (listed above): they stay on the stick; the valid receipts are stored`);
          if (!o.json) printNotes(`ferry: error[${e.code}]: ${e.message}`);
          return e.exitCode;
        }
        return undefined;
      }),
    );
}

/** Register `ferry receipts` on the program. */
export function registerReceipts(program: Command): void {
  const receipts = program.command('receipts').description('receipts back at headquarters: collect them from sticks into a store, report on the fleet');
  registerCollect(receipts);
  registerReport(receipts);
}
