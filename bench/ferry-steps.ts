/**
 * The ferry side of each comparison, as command lines for the built CLI. Each step
 * says why it cannot run (command not there yet, missing option) instead of guessing.
 */
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ferryArgv, hasOption, repoRoot, type FerryCli } from './ferry.js';
import type { Contender } from './harness.js';
import type { SizeInputs } from './inputs.js';

/** Command lines (and their availability) for the ferry operations the bench measures. */
export interface FerrySteps {
  exportWhy?: string;
  exportArgv: (archive: string, stick: string, version: string) => string[];
  verifyWhy?: string;
  verifyArgv: (stick: string) => string[];
  applyWhy?: string;
  applyPrepare: (inputs: SizeInputs, slot: string) => Promise<void>;
  applyArgv: (inputs: SizeInputs, slot: string) => string[];
  blockSide: (inputs: SizeInputs) => Contender;
}

/** The ferry commands the bench probes. */
export const FERRY_COMMANDS: readonly string[][] = [['export'], ['verify'], ['device', 'apply']];

/** Build the steps from what the built CLI offers. */
export function ferrySteps(cli: FerryCli): FerrySteps {
  const ferry = ferryArgv();
  const applyScript = join(repoRoot(), 'dist', 'bench', 'apply-dir.js');
  const exportWhy = cli.missing['export'] ?? (hasOption(cli, 'export', '--media') ? undefined : 'ferry export has no --media option');
  return {
    ...(exportWhy === undefined ? {} : { exportWhy }),
    exportArgv: (archive, stick, version) => [
      ...ferry, 'export', '--image', `oci-archive:${archive}`, '--media', stick,
      ...(hasOption(cli, 'export', '--target') ? ['--target', 'bench'] : []),
      ...(hasOption(cli, 'export', '--version') ? ['--version', version] : []),
    ],
    ...(cli.missing['verify'] === undefined ? {} : { verifyWhy: cli.missing['verify'] }),
    verifyArgv: (stick) => [...ferry, 'verify', '--media', stick],
    ...(existsSync(applyScript) ? {} : { applyWhy: 'ferry: not built (run tsc)' }),
    applyPrepare: async (_inputs, slot) => { await rm(slot, { recursive: true, force: true }); },
    applyArgv: (inputs, slot) => [ferry[0] as string, applyScript, inputs.layout, '1.0.0', slot],
    blockSide: () => ({ name: 'ferry apply (block slot)', notRun: 'ferry: not available yet', argv: () => [] }),
  };
}
