/** `ferry sign`: placeholder until its issue lands. */
import type { Command } from 'commander';

/** Register `ferry sign` on the program. */
export function registerSign(_program: Command): void {}
