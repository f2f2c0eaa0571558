/**
 * `ferry device …`: the A/B engine on the device. Each command declares its options
 * here once, calls one library function from src/device/, and prints.
 */
import type { Command } from 'commander';
import { FerryError } from '../../errors.js';
import { apply, bootCheck, bootCheckError, DEFAULT_CONFIG_FILE, deviceDeps, type InstallPlan, markBad, markGood, type MaintenanceOptions, rollback, type SkipReason, type SlotName, status, formatStatus } from '../../device/index.js';
import { setRegistryMediaOptions } from '../../media/registry-media.js';
import { registryOptionsOf } from '../registry-options.js';
import { action, askProceed, cliProgress, printJson, printLines, printNotes } from '../run.js';
import { registerAuto } from './device-auto.js';
import { registerInit } from './device-init.js';
import { registerDrift } from './device-drift.js';


interface CommonOpts {
  config: string;
  json?: boolean;
}

/** --config and --json, declared once for every device command. */
function common(cmd: Command): Command {
  return cmd.option('--config <file>', 'device configuration file', DEFAULT_CONFIG_FILE).option('--json', 'print the result as JSON (progress as JSON lines on stderr)');
}

function parseSlot(v: string): SlotName {
  if (v !== 'A' && v !== 'B') throw new FerryError('USAGE', `--slot must be A or B, not "${v}"`);
  return v;
}

function printSkipped(skipped: SkipReason[]): void {
  printNotes(...skipped.map((s) => `ferry: skipped ${s.id}: ${s.code}: ${s.message}`));
}

/** How the slot is written, in words: "writes 74 MiB of 724 MiB (incremental: …)" or "full write: …". */
function writeWords(plan: InstallPlan): string {
  const w = plan.write!;
  const mib = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;
  return w.mode === 'incremental' ? `writes ${mib(w.changedBytes ?? 0)} of ${mib(w.totalBytes ?? 0)} (incremental: ${w.reason})` : `full write: ${w.reason}`;
}

/** Ask on the terminal; without one, --yes is required. */
async function confirmOnTty(plan: InstallPlan): Promise<boolean> {
  if (!process.stdin.isTTY || !process.stderr.isTTY) {
    throw new FerryError('CONFIRMATION_REQUIRED', 'no terminal to confirm on: pass --yes to install without asking');
  }
  const u = plan.update;
  printNotes(
    `install ${u.id} (version ${u.target.version}, counter ${u.target.counter}) into slot ${plan.target}, replacing ${plan.replaces.version ?? plan.replaces.status}`,
    `  ${plan.payloadBytes} bytes (${plan.space.neededBytes} ${plan.space.measure === 'unpacked' ? 'unpacked' : 'compressed'} in the slot), signed by ${plan.signers.join(', ') || 'unknown'}; slot ${plan.booted} stays as the fallback`,
    ...(plan.write ? [`  ${writeWords(plan)}`] : []),
    ...(u.notes ? [`  notes: ${u.notes.split('\n')[0]}`] : []),
  );
  return askProceed();
}

function registerApply(device: Command): void {
  common(device.command('apply'))
    .description('verify the updates on the media and install the newest applicable one into the inactive slot')
    .requiredOption('--media <dir>', 'the media: the folder that holds FERRY/, an archive written by ferry archive (read in place), or a site registry repository docker://HOST[:PORT]/PREFIX/TARGET seeded by ferry push')
    .option('--update <id>', 'install this update (e.g. kiosk-1.1.0) instead of the newest')
    .option('--yes', 'do not ask for confirmation (required without a terminal)')
    .option('--authfile <file>', 'docker:// media: registry credentials from this auth.json')
    .option('--cert-dir <dir>', "docker:// media: also trust the CA certificates (*.crt) in this folder")
    .option('--tls-verify <bool>', "docker:// media: verify the registry's TLS certificate; false also allows plain HTTP", 'true')
    .action(
      action(async (opts: CommonOpts & { media: string; update?: string; yes?: boolean; authfile?: string; certDir?: string; tlsVerify: string }) => {
        setRegistryMediaOptions(registryOptionsOf(opts));
        const ac = new AbortController();
        const onInt = () => ac.abort();
        process.on('SIGINT', onInt);
        process.on('SIGTERM', onInt);
        try {
          const progress = cliProgress({ progress: Boolean(opts.json) });
          const r = await apply(
            {
              configFile: opts.config,
              mediaRoot: opts.media,
              ...(opts.update ? { updateId: opts.update } : {}),
              ...(progress ? { progress } : {}),
              signal: ac.signal,
              confirm: async (plan, skipped) => {
                if (!opts.json) printSkipped(skipped);
                return opts.yes ? true : confirmOnTty(plan);
              },
            },
            deviceDeps,
          );
          if (opts.json) return void printJson({ ok: true, plan: r.plan, skipped: r.skipped, bytesWritten: r.bytesWritten, receipt: r.receipt, receipts: r.delivery });
          printLines(`installed ${r.plan.update.id} into slot ${r.plan.target} (${r.bytesWritten} bytes${r.plan.write?.mode === 'incremental' ? ', incremental' : ''}); it boots next with ${r.plan.bootloader.attempts} attempts: reboot, then boot-check commits it`);
          if (r.delivery.kept > 0) printNotes(`ferry: ${r.delivery.kept} receipt(s) kept on the device (stick not writable): ${r.delivery.error ?? ''}`);
        } catch (e) {
          const skipped = (e as FerryError).details?.skipped as SkipReason[] | undefined;
          if (!opts.json && skipped) printSkipped(skipped);
          throw e;
        } finally {
          process.off('SIGINT', onInt);
          process.off('SIGTERM', onInt);
        }
      }),
    );
}

function registerBootCheck(device: Command): void {
  common(device.command('boot-check'))
    .description('at boot: commit a freshly installed slot if its health check passes, else roll back (run by ferry-boot-check.service)')
    .option('--no-reboot', 'do not run the reboot command after a rollback')
    .option('--media <dir>', 'a writable stick to write receipts to')
    .action(
      action(async (opts: CommonOpts & { reboot: boolean; media?: string }) => {
        const r = await bootCheck({ configFile: opts.config, noReboot: !opts.reboot, ...(opts.media ? { mediaRoot: opts.media } : {}) }, deviceDeps);
        const err = bootCheckError(r);
        if (opts.json) {
          printJson({ ok: err === undefined, ...r, ...(err ? { error: { code: err.code, message: err.message } } : {}) });
          return err?.exitCode ?? 0;
        }
        if (err) throw err;
        printLines(`${r.outcome}: ${r.message}`);
        return 0;
      }),
    );
}

function registerMaintenance(device: Command): void {
  const commands = [
    ['mark-good', 'commit a slot (default: the booted one): good in the bootloader and the state', markGood],
    ['mark-bad', 'mark a slot bad (default: the other one) so it does not boot', markBad],
    ['rollback', 'go back to the other slot if it holds a committed, good, older system (takes effect at the next boot; recorded as a rollback by operator)', rollback],
  ] as const;
  for (const [name, description, fn] of commands) {
    const cmd = common(device.command(name)).description(description);
    if (name !== 'rollback') cmd.option('--slot <slot>', 'A or B', parseSlot);
    if (name === 'mark-good') cmd.option('--force', 'commit even a slot whose last health check failed (raises the anti-rollback floor to its version)');
    cmd.option('--media <dir>', 'a writable stick to write the receipt to').action(
      action(async (opts: CommonOpts & { slot?: SlotName; media?: string; force?: boolean }) => {
        const o: MaintenanceOptions = { configFile: opts.config, ...(opts.slot ? { slot: opts.slot } : {}), ...(opts.force ? { force: true } : {}), ...(opts.media ? { mediaRoot: opts.media } : {}) };
        const r = await fn(o, deviceDeps);
        if (opts.json) printJson({ ok: true, action: r.action, slot: r.slot, message: r.message, receipt: r.receipt, receipts: r.delivery });
        else printLines(r.message);
      }),
    );
  }
}

function registerStatus(device: Command): void {
  common(device.command('status'))
    .description('show the booted slot, both slots, the bootloader, trusted time and waiting receipts')
    .option('--media <dir>', 'a writable stick to flush waiting receipts to')
    .action(
      action(async (opts: CommonOpts & { media?: string }) => {
        const s = await status({ configFile: opts.config, ...(opts.media ? { mediaRoot: opts.media } : {}) }, deviceDeps);
        if (opts.json) printJson({ ok: true, ...s });
        else printLines(...formatStatus(s));
      }),
    );
}

/** Register `ferry device` on the program. */
export function registerDevice(program: Command): void {
  const device = program.command('device').description('on the device: verify and apply A/B updates, boot-check, roll back, status');
  registerApply(device);
  registerBootCheck(device);
  registerMaintenance(device);
  registerStatus(device);
  registerInit(device);
  registerAuto(device);
  registerDrift(device);
}
