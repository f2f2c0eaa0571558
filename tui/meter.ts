/** The meter moved to src/util/meter.ts (the CLI's progress bar uses it too); the TUI keeps importing it from here. */
export * from '../src/util/meter.js';
