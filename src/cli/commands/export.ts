/** `ferry export`: placeholder until its issue lands. */
import type { Command } from 'commander';

/** Register `ferry export` on the program. */
export function registerExport(_program: Command): void {}
