/** `ferry pki`: placeholder until its issue lands. */
import type { Command } from 'commander';

/** Register `ferry pki` on the program. */
export function registerPki(_program: Command): void {}
