/** `ferry archive`: placeholder until its issue lands. */
import type { Command } from 'commander';

/** Register `ferry archive` on the program. */
export function registerArchive(_program: Command): void {}
