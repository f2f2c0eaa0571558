/** `ferry verify`: placeholder until its issue lands. */
import type { Command } from 'commander';

/** Register `ferry verify` on the program. */
export function registerVerify(_program: Command): void {}
