/**
 * The slot backends by type (STYLE.md rule 3): one factory per file, registered here.
 * A factory validates its slot's parameters from device.json and returns the Slot.
 */
import { FerryError } from '../../errors.js';
import type { Slot, SlotName } from '../types.js';
import { createBlockSlot } from './block.js';
import { createBootcSlot } from './bootc.js';
import { createDirSlot } from './dir.js';

/** What a slot factory gets besides its config. */
export interface SlotContext {
  /** The device's state directory (block mount points and the bootc layout live below it). */
  stateDir: string;
}

/** Validates one slot's config (CONFIG_INVALID listing every problem) and builds the slot. */
export type SlotFactory = (name: SlotName, config: unknown, ctx: SlotContext) => Slot;

/** Every slot type ferry knows. */
export const SLOT_TYPES: Record<string, SlotFactory> = {
  dir: createDirSlot,
  block: createBlockSlot,
  bootc: createBootcSlot,
};

/** Build slot `name` from its device.json object (`{ type, ...params }`). */
export function createSlot(name: SlotName, config: unknown, ctx: SlotContext): Slot {
  const type = (config as { type?: unknown } | null)?.type;
  if (typeof type !== 'string') throw new FerryError('CONFIG_INVALID', `slot ${name} has no "type"; set slots.${name}.type to one of: ${Object.keys(SLOT_TYPES).join(', ')}`);
  const factory = Object.hasOwn(SLOT_TYPES, type) ? SLOT_TYPES[type] : undefined;
  if (!factory) {
    throw new FerryError('UNKNOWN_SLOT_TYPE', `slot ${name} has unknown type "${type}"; known types: ${Object.keys(SLOT_TYPES).join(', ')}`, { details: { type, known: Object.keys(SLOT_TYPES) } });
  }
  return factory(name, config, ctx);
}
