/** `ferry device`: placeholder until its issue lands. */
import type { Command } from 'commander';

/** Register `ferry device` on the program. */
export function registerDevice(_program: Command): void {}
