/**
 * `npm run test:vm [-- --long] [-- --seed N] [-- --uefi]`: the VM tests (test/vm, docs/vm.md)
 * through vitest with vitest.vm.config.ts. --long raises the power-cut counts (FERRY_VM_LONG=1);
 * --seed replays a power-cut sequence (FERRY_VM_SEED); --uefi runs them on the UEFI flavour
 * (OVMF, grubenv on the FAT ESP). Prints the wall time at the end.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

const args = process.argv.slice(2);
const env = { ...process.env };
const rest: string[] = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--long') env.FERRY_VM_LONG = '1';
  else if (args[i] === '--seed') env.FERRY_VM_SEED = args[++i];
  else if (args[i] === '--uefi') env.FERRY_VM_FLAVOUR = 'uefi';
  else rest.push(args[i]!);
}
const started = Date.now();
const vitest = path.resolve(import.meta.dirname, '..', '..', 'node_modules', '.bin', 'vitest');
const r = spawnSync(vitest, ['run', '--config', 'vitest.vm.config.ts', ...rest], { stdio: 'inherit', env });
console.log(`test:vm: ${((Date.now() - started) / 60_000).toFixed(1)} min${env.FERRY_VM_LONG ? ' (--long)' : ''}`);
process.exit(r.status ?? 1);
