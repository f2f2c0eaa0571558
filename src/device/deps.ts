/**
 * The production wiring of the engine's seams: the slot registry and the media
 * verifier. The CLI and the TUI pass `deviceDeps`; tests may pass their own.
 */
import { createSlot, SLOT_TYPES } from './slots/registry.js';
import type { DeviceDeps } from './context.js';
import { verifyMediaForDevice } from './media-candidates.js';

/** The real slots (dir, block, bootc) and the real verifier. */
export const deviceDeps: DeviceDeps = {
  slotTypes: Object.keys(SLOT_TYPES),
  createSlot,
  verifyMedia: verifyMediaForDevice,
};
