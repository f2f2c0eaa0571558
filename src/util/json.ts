/**
 * Strict JSON for untrusted documents: size cap first, then UTF-8 decoding that
 * refuses invalid sequences, then a parse that refuses duplicate object keys
 * (two parsers must never disagree on what a signed document says).
 */
import { FerryError } from '../errors.js';

/** Nesting deeper than this is refused before parsing (OCI and ferry documents nest about 5 deep). */
export const MAX_DEPTH = 64;

/** The deepest nesting of objects and arrays in `text` (strings skipped), counted up to `stop` + 1. */
export function nestingDepth(text: string, stop: number): number {
  let depth = 0;
  let max = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      for (i++; i < text.length && text.charCodeAt(i) !== 0x22; i++) if (text.charCodeAt(i) === 0x5c) i++;
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > max && (max = depth) > stop) return max;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return max;
}

/** One decoder for every document: a non-streaming decode keeps no state between calls. */
const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/** Parse `bytes` as JSON after checking the cap; duplicate keys and bad UTF-8 are refused, and so is nesting past MAX_DEPTH. */
export function parseStrictJson(bytes: Uint8Array, maxBytes: number, what: string): unknown {
  if (bytes.length > maxBytes) {
    throw new FerryError('FILE_TOO_LARGE', `${what} is ${bytes.length} bytes, over the ${maxBytes}-byte cap`, {
      details: { size: bytes.length, cap: maxBytes },
    });
  }
  let text: string;
  try {
    text = STRICT_UTF8.decode(bytes);
  } catch (e) {
    throw new FerryError('INVALID_JSON', `${what} is not valid UTF-8`, { cause: e });
  }
  const depth = nestingDepth(text, MAX_DEPTH);
  if (depth > MAX_DEPTH) {
    throw new FerryError('LIMIT_EXCEEDED', `${what} nests deeper than ${MAX_DEPTH} levels: no ferry or OCI document does; refusing it before parsing`, { details: { cap: MAX_DEPTH } });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new FerryError('INVALID_JSON', `${what} is not valid JSON: ${(e as Error).message}`, { cause: e });
  }
  const dup = findDuplicateKey(text);
  if (dup !== undefined) {
    throw new FerryError('DUPLICATE_JSON_KEY', `${what} repeats the key "${dup}": refusing an ambiguous document`, { details: { key: dup } });
  }
  return value;
}

/**
 * Scan already-valid JSON text for an object with a repeated key. JSON.parse keeps
 * the last value silently; other parsers keep the first, so a repeat is refused.
 */
export function findDuplicateKey(text: string): string | undefined {
  // char codes, and a key decoded only when it has an escape: this scan runs on every receipt collected
  const stack: Array<Set<string> | null> = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      let j = i + 1;
      let escaped = false;
      for (let d = text.charCodeAt(j); d !== 0x22 && j < text.length; d = text.charCodeAt(j)) {
        if (d === 0x5c) {
          escaped = true;
          j += 2;
        } else j++;
      }
      const top = stack[stack.length - 1];
      if (expectKey && top) {
        const key = escaped ? (JSON.parse(text.slice(i, j + 1)) as string) : text.slice(i + 1, j);
        if (top.has(key)) return key;
        top.add(key);
        expectKey = false;
      }
      i = j;
    } else if (c === 0x7b) {
      stack.push(new Set());
      expectKey = true;
    } else if (c === 0x5b) {
      stack.push(null);
    } else if (c === 0x7d || c === 0x5d) {
      stack.pop();
    } else if (c === 0x2c) {
      expectKey = stack[stack.length - 1] != null;
    }
  }
  return undefined;
}
