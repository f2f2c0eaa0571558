/** The `ferry` root command without its subcommands: shared by the full tree and the one-command tree. */
import { Command } from 'commander';

/** A fresh root command; subcommands are added by the register functions of src/cli/commands/. */
export function programShell(): Command {
  return new Command('ferry')
    .description('carry bootable OS images across the air gap: signed OCI media and verified A/B updates')
    .version('0.1.0')
    // program options only before the subcommand, so `ferry export --version 1.2.3` is export's own option
    .enablePositionalOptions()
    .showHelpAfterError()
    .exitOverride();
}
