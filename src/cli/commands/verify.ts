/** `ferry verify`: re-hash every blob the media's images reference; list every damaged one. */
import type { Command } from 'commander';
import { reportError as blobReportError, verifyMediaBlobs } from '../../media/verify.js';
import type { ProgressEvent, ProgressFn } from '../../progress.js';
import { action, printJson } from '../run.js';

function mib(n: number): string {
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/**
 * The CLI's progress sink: JSON lines on stderr with `--progress`, a one-line bar on
 * stderr when it is a TTY, nothing otherwise. Shared by export, verify and archive.
 */
export function cliProgress(opts: { progress?: boolean }): ProgressFn | undefined {
  if (opts.progress) return (e: ProgressEvent) => void process.stderr.write(JSON.stringify(e) + '\n');
  if (!process.stderr.isTTY) return undefined;
  return (e: ProgressEvent) => {
    const width = 30;
    const frac = e.bytesTotal > 0 ? Math.min(1, e.bytesDone / e.bytesTotal) : 0;
    const bar = '#'.repeat(Math.round(frac * width)).padEnd(width, '.');
    const amount = e.step === 'layer' ? `${e.bytesDone + 1}/${e.bytesTotal}` : `${mib(e.bytesDone)}${e.bytesTotal ? ` / ${mib(e.bytesTotal)}` : ''}`;
    process.stderr.write(`\r${e.step.padEnd(10)} [${bar}] ${amount}`.padEnd(78).slice(0, 100));
    if (e.bytesTotal > 0 && e.bytesDone >= e.bytesTotal && e.step !== 'layer') process.stderr.write('\n');
  };
}

/** Register `ferry verify` on the program. */
export function registerVerify(program: Command): void {
  program
    .command('verify')
    .description('re-read every blob of every image on the media and check its digest and size; lists every missing or damaged blob')
    .requiredOption('--media <dir>', 'the media root (the folder that holds FERRY/)')
    .option('--json', 'print the report as JSON')
    .option('--progress', 'print progress events as JSON lines on stderr')
    // --trust <dir> (signature checking of FERRY/updates) is added here by the integrator.
    .action(
      action(async (opts: { media: string; json?: boolean; progress?: boolean }) => {
        const progress = cliProgress(opts);
        const report = await verifyMediaBlobs(opts.media, progress ? { progress } : {});
        const err = blobReportError(report);
        if (opts.json) {
          printJson({ ...report, ...(err ? { error: { code: err.code, message: err.message } } : {}) });
          return err?.exitCode ?? 0;
        }
        for (const p of report.problems) process.stderr.write(`ferry: ${p.kind}: ${p.digest} (needed by ${p.refs.join(', ')}): ${p.message}\n`);
        if (err) throw err;
        process.stdout.write(`ok: ${report.images.length} image(s), ${report.blobsChecked} blobs, ${report.bytesChecked} bytes verified\n`);
        return 0;
      }),
    );
}
