/** `ferry receipts report`: the fleet report from a receipts store (src/media/receipts-store/report*.ts). */
import type { Command } from 'commander';
import { FerryError } from '../../errors.js';
import { action, printDocument, printJson, printLines, printNotes } from '../run.js';

const FORMATS = ['table', 'csv', 'json', 'html'] as const;
type Format = (typeof FORMATS)[number];

interface ReportCliOptions {
  from: string;
  campaign?: string;
  format: string;
  since?: string;
  deviceCa?: string;
  acceptUnsigned?: boolean;
  out?: string;
  json?: boolean;
}

/** Register `ferry receipts report` under `ferry receipts`. */
export function registerReport(receipts: Command): void {
  receipts
    .command('report')
    .description('the fleet report: per device its latest state, per site and campaign target the counts, the devices that need a visit; receipts that fail their signature or come from unenrolled devices are marked and not counted')
    .requiredOption('--from <file>', 'the receipts store (ferry receipts collect --into)')
    .option('--campaign <file>', 'the campaign file (YAML or JSON): counts per target (updated, pending, failed, rolled back, not reached)')
    .option('--format <format>', `output format: ${FORMATS.join(', ')}`, 'table')
    .option('--since <date>', 'only receipts finished at or after this date (YYYY-MM-DD) or RFC 3339 time')
    .option('--device-ca <dir>', 'the device CA folder (ferry pki enroll-device records device certificates in <dir>/devices/): only receipts of enrolled keys count')
    .option('--accept-unsigned', 'count receipts made before devices signed them (otherwise marked and left out)')
    .option('--out <file>', 'write the report to this file instead of standard output')
    .action(
      action(async (o: ReportCliOptions) => {
        if (!FORMATS.includes(o.format as Format)) throw new FerryError('USAGE', `--format must be one of ${FORMATS.join(', ')}, not "${o.format}"`);
        const format = o.format as Format;
        // loaded when report runs: `receipts collect` needs none of it
        const [{ buildFleetReport, parseSince }, { reportHtml }, { reportCsv, reportTable }, { writeFileAtomic }, { terminalSafeJson }] = await Promise.all([
          import('../../media/receipts-store/report.js'),
          import('../../media/receipts-store/report-html.js'),
          import('../../media/receipts-store/report-text.js'),
          import('../../util/fsx.js'),
          import('../../util/terminal.js'),
        ]);
        const { report, problems } = await buildFleetReport({
          storeFile: o.from,
          ...(o.deviceCa ? { deviceCaDir: o.deviceCa } : {}),
          ...(o.campaign ? { campaignFile: o.campaign } : {}),
          ...(o.since ? { since: parseSince(o.since) } : {}),
          acceptUnsigned: Boolean(o.acceptUnsigned),
        });
        printNotes(...problems.map((p) => `ferry: warning: ${p}`));
        const text = format === 'html' ? reportHtml(report) : format === 'csv' ? reportCsv(report) : format === 'json' ? terminalSafeJson({ ok: true, ...report }) + '\n' : undefined;
        if (o.out !== undefined) {
          await writeFileAtomic(o.out, text ?? reportTable(report).join('\n') + '\n');
          printLines(`wrote the ${format} report (${report.devices.length} devices, ${report.visits.length} need a visit) to ${o.out}`);
        } else if (format === 'table') printLines(...reportTable(report));
        else if (format === 'json') printJson({ ok: true, ...report });
        else printDocument(text!);
      }),
    );
}
