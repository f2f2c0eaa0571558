/** The `ferry` command tree, built without side effects so docs and tests can walk it. */
import { Command } from 'commander';
import { registerArchive } from './commands/archive.js';
import { registerCampaign } from './commands/campaign.js';
import { registerDevice } from './commands/device.js';
import { registerExport } from './commands/export.js';
import { registerInspect } from './commands/inspect.js';
import { registerPki } from './commands/pki.js';
import { registerPush } from './commands/push.js';
import { registerReceipts } from './commands/receipts.js';
import { registerSign } from './commands/sign.js';
import { registerVerify } from './commands/verify.js';

/** Build the whole command tree (exported so tests and docs can walk it). */
export function buildProgram(): Command {
  const program = new Command('ferry')
    .description('carry bootable OS images across the air gap: signed OCI media and verified A/B updates')
    .version('0.1.0')
    // program options only before the subcommand, so `ferry export --version 1.2.3` is export's own option
    .enablePositionalOptions()
    .showHelpAfterError()
    .exitOverride();
  registerExport(program);
  registerInspect(program);
  registerVerify(program);
  registerArchive(program);
  registerPush(program);
  registerPki(program);
  registerSign(program);
  registerCampaign(program);
  registerDevice(program);
  registerReceipts(program);
  return program;
}
