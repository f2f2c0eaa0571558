/** `ferry inspect`: placeholder until its issue lands. */
import type { Command } from 'commander';

/** Register `ferry inspect` on the program. */
export function registerInspect(_program: Command): void {}
