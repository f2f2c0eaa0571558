/** `ferry device init`: provision a device once (src/device/init.ts does the work). */
import type { Command } from 'commander';
import { FerryError } from '../../errors.js';
import { DEFAULT_CONFIG_FILE, deviceDeps, init, type InitPlan, type InitResult, type SlotName } from '../../device/index.js';
import { writeFileAtomic } from '../../util/fsx.js';
import { action, askProceed, printJson, printLines, printNotes } from '../run.js';

interface InitCliOptions {
  config: string;
  json?: boolean;
  trustRoot?: string;
  booted?: SlotName;
  version?: string;
  digest?: string;
  target?: string;
  yes?: boolean;
  force?: boolean;
  csrOut?: string;
}

function parseSlot(v: string): SlotName {
  if (v !== 'A' && v !== 'B') throw new FerryError('USAGE', `--booted must be A or B, not "${v}"`);
  return v;
}

/** Show the plan and ask on the terminal; without one, --yes is required. */
async function confirmInit(plan: InitPlan): Promise<boolean> {
  if (!process.stdin.isTTY || !process.stderr.isTTY) throw new FerryError('CONFIRMATION_REQUIRED', 'no terminal to confirm on: pass --yes to provision without asking');
  printNotes(`provision device ${plan.deviceId} (booted slot ${plan.booted}):`, ...plan.changes.map((c) => `  ${c}`), ...plan.replaces.map((r) => `  replaces ${r}`));
  return askProceed();
}

function printResult(r: InitResult): void {
  const what = `slot ${r.booted} good and committed${r.version ? `, version ${r.version}` : ''}${r.target ? `, target ${r.target}` : ''}`;
  if (!r.changed) printLines(`device ${r.deviceId} is already provisioned (${what}); nothing changed`);
  else printLines(`provisioned device ${r.deviceId} (${what}):`, ...r.changes.map((c) => `  ${c}`), ...r.replaces.map((x) => `  replaced ${x}`));
  printNotes(...r.warnings.map((w) => `ferry: warning: ${w}`));
}

/** Register `ferry device init` under `ferry device`. */
export function registerInit(device: Command): void {
  device
    .command('init')
    .description('provision the device once: check the config, install the trust root, write the bootloader\'s initial state and state.json (booted slot good and committed)')
    .option('--config <file>', 'device configuration file', DEFAULT_CONFIG_FILE)
    .option('--trust-root <pem>', 'root CA certificate to install into <trustDir>/roots/')
    .option('--booted <slot>', 'the running slot, A or B (default: ferry.slot= on the kernel command line, or bootedSlot in the config)', parseSlot)
    .option('--version <version>', 'version of the running image (default: IMAGE_VERSION or VERSION_ID from the slot\'s os-release)')
    .option('--digest <digest>', 'image manifest digest of the running image (sha256:…)')
    .option('--target <name>', 'the update target name this device follows (recorded as state.target)')
    .option('--yes', 'do not ask for confirmation (required without a terminal)')
    .option('--force', 'replace a provisioned state, trust root or damaged boot state that differs (the output lists what it replaces)')
    .option('--csr-out <file>', 'write the device key\'s enrolment request (PKCS#10 PEM) here, for ferry pki enroll-device at headquarters')
    .option('--json', 'print the result as JSON')
    .action(
      action(async (opts: InitCliOptions) => {
        const r = await init(
          {
            configFile: opts.config,
            ...(opts.trustRoot ? { trustRoot: opts.trustRoot } : {}),
            ...(opts.booted ? { booted: opts.booted } : {}),
            ...(opts.version ? { version: opts.version } : {}),
            ...(opts.digest ? { digest: opts.digest } : {}),
            ...(opts.target ? { target: opts.target } : {}),
            force: Boolean(opts.force),
            confirm: (plan) => (opts.yes ? Promise.resolve(true) : confirmInit(plan)),
          },
          deviceDeps,
        );
        if (opts.csrOut) await writeFileAtomic(opts.csrOut, r.deviceKey.csrPem);
        if (opts.json) printJson({ ok: true, ...r });
        else {
          printResult(r);
          // a second run that changed nothing stays one line unless the request was asked for
          if (r.changed || opts.csrOut) printLines(`receipt key ${r.deviceKey.keyId} (${r.deviceKey.file})${opts.csrOut ? `; enrolment request written to ${opts.csrOut}` : '; --csr-out FILE writes its enrolment request'}`);
        }
      }),
    );
}
