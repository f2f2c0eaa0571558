/**
 * The command tree for one invocation, loading only the command it runs: every command
 * module pulls in its part of the library, and loading all of them cost every `ferry`
 * run ~0.1 s before its first byte. Anything not named here (help, --version, a typo, a
 * command added without an entry) gets the whole tree from program.ts, so this table is
 * an optimisation only; a test checks that each entry's help equals the whole tree's.
 */
import type { Command } from 'commander';
import { programShell } from './shell.js';

type Register = (program: Command) => void;

/** Top-level command name → its register function, loaded on demand. */
export const LAZY_COMMANDS: Readonly<Record<string, () => Promise<Register>>> = {
  export: async () => (await import('./commands/export.js')).registerExport,
  inspect: async () => (await import('./commands/inspect.js')).registerInspect,
  verify: async () => (await import('./commands/verify.js')).registerVerify,
  archive: async () => (await import('./commands/archive.js')).registerArchive,
  unarchive: async () => (await import('./commands/archive.js')).registerArchive,
  push: async () => (await import('./commands/push.js')).registerPush,
  pki: async () => (await import('./commands/pki.js')).registerPki,
  sign: async () => (await import('./commands/sign.js')).registerSign,
  campaign: async () => (await import('./commands/campaign.js')).registerCampaign,
  device: async () => (await import('./commands/device.js')).registerDevice,
  receipts: async () => (await import('./commands/receipts.js')).registerReceipts,
};

/** The first word of `args` that is not an option: the command to run (the root has only --help/--version). */
export function commandName(args: readonly string[]): string | undefined {
  return args.find((a) => !a.startsWith('-'));
}

/** The tree for `args`: only the named command where it has an entry, else the whole tree. */
export async function programFor(args: readonly string[]): Promise<Command> {
  const name = commandName(args);
  // `ferry --version` needs no command at all
  if (name === undefined && (args.includes('--version') || args.includes('-V')) && !args.includes('--help') && !args.includes('-h')) return programShell();
  const load = name !== undefined && Object.hasOwn(LAZY_COMMANDS, name) ? LAZY_COMMANDS[name] : undefined;
  if (load === undefined) return (await import('./program.js')).buildProgram();
  const program = programShell();
  (await load())(program);
  return program;
}
