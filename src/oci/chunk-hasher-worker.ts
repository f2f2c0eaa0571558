/**
 * The source of the chunk hashing worker (chunk-hasher-parallel.ts), run with `eval` so that it
 * also works from the single executable, which has no files beside it.
 */
import { chunkHasMemberHeader, hasMemberHeader } from './unpacked-size.js';

/**
 * The worker, per piece of a blob: it goes into its chunk's hash (the digest answered when the
 * piece ends the chunk, or on `close`) and the blob's whole hash (answered on `end`); when asked
 * (gzip layers), whether a gzip member header may start in it (unpacked-size.ts: the trailer's
 * size is trusted only when none can), with the three bytes before it (`edge`) for a header that
 * straddles two pieces.
 */
export const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const hasMemberHeader = ${hasMemberHeader.toString()};
const chunkHasMemberHeader = ${chunkHasMemberHeader.toString()};
const wholes = new Map();
const parts = new Map();
const slots = new Map();
const state = (map, key) => {
  let h = map.get(key);
  if (!h) map.set(key, (h = createHash('sha256')));
  return h;
};
parentPort.on('message', (m) => {
  if (m.add !== undefined) return void slots.set(m.add, Buffer.from(m.sab));
  if (m.drop !== undefined) return void slots.delete(m.drop);
  if (m.end !== undefined) {
    const h = wholes.get(m.end) || createHash('sha256');
    wholes.delete(m.end);
    parts.delete(m.end);
    parentPort.postMessage({ id: m.id, hex: h.digest('hex'), header: false });
    return;
  }
  if (m.close !== undefined) {
    const h = state(parts, m.close);
    parts.delete(m.close);
    parentPort.postMessage({ id: m.id, hex: h.digest('hex'), header: false });
    return;
  }
  const piece = slots.get(m.slot).subarray(0, m.len);
  let hex = '';
  if (m.chunk) {
    const h = state(parts, m.stream);
    h.update(piece);
    if (m.ends) {
      parts.delete(m.stream);
      hex = h.digest('hex');
    }
  }
  if (m.whole) state(wholes, m.stream).update(piece);
  const header = m.scan && chunkHasMemberHeader(piece, m.edge, m.first, hasMemberHeader);
  parentPort.postMessage({ id: m.id, hex, header });
});
`;
