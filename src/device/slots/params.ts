/**
 * Validation of a slot's parameters from device.json (pure): each slot type
 * declares its keys once; every bad or unknown key is listed in one CONFIG_INVALID.
 */
import * as path from 'node:path';
import { FerryError } from '../../errors.js';
import type { SlotName } from '../types.js';

/** Collects the problems of one slot's config object. */
export class SlotParams {
  readonly bad: string[] = [];
  private readonly obj: Record<string, unknown>;

  constructor(
    readonly slot: SlotName,
    readonly type: string,
    config: unknown,
    allowed: readonly string[],
  ) {
    this.obj = typeof config === 'object' && config !== null && !Array.isArray(config) ? (config as Record<string, unknown>) : {};
    if (this.obj !== config) this.bad.push(`slots.${slot} must be an object`);
    for (const k of Object.keys(this.obj)) {
      if (k !== 'type' && k !== '$comment' && !allowed.includes(k)) this.bad.push(`slots.${slot}.${k} is not a parameter of a ${type} slot (known: ${allowed.join(', ') || 'none'})`);
    }
  }

  /** A required or optional absolute, normalised path. */
  absolutePath(key: string, required: true): string;
  absolutePath(key: string, required: false): string | undefined;
  absolutePath(key: string, required: boolean): string | undefined {
    const v = this.obj[key];
    if (v === undefined && !required) return undefined;
    if (typeof v !== 'string' || v === '') this.bad.push(`slots.${this.slot}.${key} must be ${required ? 'set to ' : ''}an absolute path`);
    else if (!path.isAbsolute(v) || v.includes('\0')) this.bad.push(`slots.${this.slot}.${key} "${v}" must be an absolute path`);
    else return path.resolve(v);
    return undefined;
  }

  /** An optional string from `choices`. */
  choice<T extends string>(key: string, choices: readonly T[], fallback: T): T {
    const v = this.obj[key];
    if (v === undefined) return fallback;
    if (typeof v === 'string' && (choices as readonly string[]).includes(v)) return v as T;
    this.bad.push(`slots.${this.slot}.${key} must be one of ${choices.join(', ')}`);
    return fallback;
  }

  /** An optional list of command-line arguments. */
  stringList(key: string): string[] {
    const v = this.obj[key];
    if (v === undefined) return [];
    if (Array.isArray(v) && v.every((a) => typeof a === 'string' && !a.includes('\0'))) return v as string[];
    this.bad.push(`slots.${this.slot}.${key} must be a list of strings`);
    return [];
  }

  /** An optional program: a bare command name found on PATH, or an absolute path. */
  program(key: string, fallback: string): string {
    const v = this.obj[key];
    if (v === undefined) return fallback;
    if (typeof v === 'string' && v !== '' && !v.includes('\0') && (path.isAbsolute(v) || !v.includes('/'))) return v;
    this.bad.push(`slots.${this.slot}.${key} must be a command name or an absolute path`);
    return fallback;
  }

  /** Throw CONFIG_INVALID listing every problem found so far. */
  check(): void {
    if (this.bad.length) {
      throw new FerryError('CONFIG_INVALID', `slot ${this.slot} (${this.type}) is misconfigured: ${this.bad.join('; ')}; fix device.json`, { details: { problems: this.bad } });
    }
  }
}
