/**
 * Reasons as data: a stable key and the values the sentence needs. The engine's messages
 * stay English (the CLI prints them); a user interface in another language says the same
 * reason in its own words from `key` + `vars` (tui/strings-*-engine.ts has one entry per key).
 */

/** Every reason key the engine gives, with the names of the values it carries. */
export const WHY_VARS = {
  // The device policy (checked while verifying) and the planner: why an update on the stick does not apply to this device.
  expired: ['id', 'at'],
  alreadyInstalled: ['v'],
  incompatible: ['builtFor', 'device'],
  wrongTarget: ['follows', 'id', 'target'],
  replacedNotNewer: ['target', 'v', 'follows', 'had'],
  notYetRolledOut: ['at'],
  olderThanFloor: ['v', 'had'],
  alreadyRunning: ['v', 'slot'],
  olderThanRunning: ['v', 'running'],
  awaitingReboot: ['slot'],
  needsIntermediate: ['v', 'running'],
  olderThanChosen: ['chosen'],
  noSpace: ['slot', 'freeBytes', 'needBytes', 'id'],
  notVerified: [],
  // The signer's certificate, judged while verifying (the subject and the instant in question).
  certExpired: ['subject', 'at'],
  certNotYetValid: ['subject', 'at'],
  certRevoked: ['subject', 'at'],
  // The planner: why nothing can be installed at all right now.
  runningPending: ['slot', 'v', 'target'],
  runningBad: ['slot', 'target'],
  runningNotBootable: ['slot', 'target'],
  noSuchUpdate: ['id', 'have'],
  noUpdates: [],
  nothingApplicable: ['n'],
  // Rollback: why there is no way back.
  rollbackEmpty: ['slot'],
  rollbackBad: ['slot', 'v'],
  rollbackPending: ['slot', 'v'],
  rollbackNewer: ['slot', 'v', 'running'],
} as const satisfies Record<string, readonly string[]>;

/** A reason's stable key. */
export type WhyKey = keyof typeof WHY_VARS;

/**
 * A reason as data. A value that is not known (a slot that never recorded its version) is
 * left out; the interface then says "unknown version" in its own language.
 */
export interface Why {
  key: WhyKey;
  vars: Record<string, string | number>;
}

/** A Why, leaving out values that are not known. */
export function why(key: WhyKey, vars: Record<string, string | number | undefined> = {}): Why {
  const known: Record<string, string | number> = {};
  for (const [k, v] of Object.entries(vars)) if (v !== undefined) known[k] = v;
  return { key, vars: known };
}
