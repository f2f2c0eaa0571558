/** The `ferry` command tree, built without side effects so docs and tests can walk it. */
import type { Command } from 'commander';
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
import { programShell } from './shell.js';

/** Build the whole command tree (exported so tests and docs can walk it). */
export function buildProgram(): Command {
  const program = programShell();
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
