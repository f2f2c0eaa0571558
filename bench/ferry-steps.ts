/**
 * The ferry side of each comparison, as command lines. The built CLI is used when
 * its command exists; until then the same library function runs in a child process
 * (bench/ferry-lib.ts), and the results say which was measured.
 */
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ferryArgv, ferryDist, hasOption, nodeArgv, type FerryCli } from './ferry.js';
import type { SizeInputs } from './inputs.js';

/** Command lines (and their availability) for the ferry operations the bench measures. */
export interface FerrySteps {
  exportWhy?: string;
  /** `signed`: sign with that signer folder (the chunk index is written only for a signed update); `cache`: the HQ chunk cache folder. */
  exportArgv: (archive: string, stick: string, version: string, extra?: { signer?: string; cache?: string }) => string[];
  verifyWhy?: string;
  verifyArgv: (stick: string) => string[];
  applyWhy?: string;
  applyPrepare: (inputs: SizeInputs, slot: string) => Promise<void>;
  applyArgv: (inputs: SizeInputs, slot: string) => string[];
  blockArgv: (inputs: SizeInputs, device: string, stateDir: string) => string[];
  /** How each operation was reached ("CLI" or "library via bench/ferry-lib.ts"), for the notes. */
  via: Record<string, string>;
}

/** The ferry commands the bench probes. */
export const FERRY_COMMANDS: readonly string[][] = [['export'], ['verify'], ['device', 'apply'], ['campaign', 'build']];

/** The target name the bench exports as. */
export const BENCH_TARGET = 'bench';

/** Build the steps from what the built CLI offers. */
export function ferrySteps(cli: FerryCli): FerrySteps {
  const ferry = ferryArgv();
  const lib = join(ferryDist(), 'bench', 'ferry-lib.js');
  const libWhy = existsSync(lib) ? undefined : 'ferry: not built (run tsc)';
  const exportCli = cli.missing['export'] === undefined && hasOption(cli, 'export', '--media');
  const verifyCli = cli.missing['verify'] === undefined && hasOption(cli, 'verify', '--media');
  // a --media path must exist unless --create says it may be made (the bench's sticks are fresh folders)
  const create = exportCli && hasOption(cli, 'export', '--create') ? ['--create'] : [];
  const steps: FerrySteps = {
    exportArgv: exportCli
      ? (archive, stick, version, extra = {}) => [
          ...ferry, 'export', '--image', `oci-archive:${archive}`, '--media', stick, ...create, '--target', BENCH_TARGET, ...versionArgs(cli, version),
          ...(extra.signer !== undefined && hasOption(cli, 'export', '--signer') ? ['--signer', extra.signer, '--compatible', 'bench,device'] : []),
          ...(extra.cache !== undefined && hasOption(cli, 'export', '--chunk-cache') ? ['--chunk-cache', extra.cache] : []),
        ]
      : (archive, stick, version) => [...nodeArgv(), lib, 'export', `oci-archive:${archive}`, stick, BENCH_TARGET, version],
    verifyArgv: verifyCli ? (stick) => [...ferry, 'verify', '--media', stick] : (stick) => [...nodeArgv(), lib, 'verify', stick],
    applyPrepare: async (_inputs, slot) => { await rm(slot, { recursive: true, force: true }); },
    applyArgv: (inputs, slot) => [...nodeArgv(), lib, 'apply-dir', inputs.layout, '1.0.0', slot],
    blockArgv: (inputs, device, stateDir) => [...nodeArgv(), lib, 'apply-block', inputs.layout, '1.0.0', device, stateDir],
    via: {
      export: exportCli ? 'CLI (ferry export)' : 'library exportImage() via bench/ferry-lib.ts (CLI not available yet)',
      verify: verifyCli ? 'CLI (ferry verify --media)' : 'library verifyMediaBlobs() via bench/ferry-lib.ts (CLI not available yet)',
      apply: 'library applyImageToDir() via bench/ferry-lib.ts (the dir-slot write of ferry device apply)',
      'block apply': "library block slot write() via bench/ferry-lib.ts (mkfs.ext4, mount, applyImageToDir, syncfs, umount)",
      'device apply': cli.missing['device apply'] === undefined ? 'CLI (ferry device apply --yes, file bootloader, dir slots)' : 'CLI: not available yet',
    },
  };
  if (libWhy !== undefined) {
    if (!exportCli) steps.exportWhy = libWhy;
    if (!verifyCli) steps.verifyWhy = libWhy;
    steps.applyWhy = libWhy;
  }
  return steps;
}

/** The export command's option for the image version (`--version` is taken by the program). */
function versionArgs(cli: FerryCli, version: string): string[] {
  for (const opt of ['--image-version', '--release', '--version']) if (hasOption(cli, 'export', opt)) return [opt, version];
  return [];
}
