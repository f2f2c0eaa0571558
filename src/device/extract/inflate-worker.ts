/**
 * The source of the layer-inflating thread (layer-feed.ts), kept apart so the main side
 * stays readable. It runs from inline source (`eval`), so it also runs from the single
 * executable, which has no files beside it.
 *
 * One job per layer: read the blob's chunks from the descriptor the main thread opened
 * (with every check of fsx.openRegular), hash each chunk and compare it with the signed
 * chunk index BEFORE it is handed to the decompressor, hash the whole blob, decompress
 * (node:zlib, the same decoders as compress.ts), hash the decompressed stream (the layer's
 * diff_id) and copy it into the ring of shared buffers the main thread parses from. A
 * buffer is refilled only after the main thread gave it back. The thread never opens a
 * path and never closes the descriptor; it says `closed` once no read of it is in flight.
 *
 * Messages in: {start: job}, {free: slot, id}, {abort: id}. Out: {id, read: n} per verified
 * chunk, {id, slot, len} per decompressed piece, {id, done, diff, bytes}, {id, error}, {id, closed}.
 */
export const INFLATE_WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const fs = require('node:fs');
const zlib = require('node:zlib');
const { pipeline } = require('node:stream/promises');
const jobs = new Map();
class Fail extends Error {
  constructor(code, message, details) { super(message); this.ferry = { code, message, details }; }
}
const ABORTED = new Fail('CANCELLED', 'aborted');
function readAt(fd, buf, pos) {
  return new Promise((resolve, reject) => {
    let got = 0;
    const step = () => fs.read(fd, buf, got, buf.length - got, pos + got, (err, n) => {
      if (err) return reject(err);
      got += n;
      if (n === 0 || got === buf.length) return resolve(got);
      step();
    });
    step();
  });
}
// reuse: the consumer is done with a chunk before it asks for the next, so two buffers take
// turns (the chunk being used, the one being read ahead); a stream decoder may hold on longer.
async function* verified(job, reuse) {
  const m = job.m;
  const whole = createHash('sha256');
  const pool = reuse ? [Buffer.allocUnsafe(m.chunkSize), Buffer.allocUnsafe(m.chunkSize)] : undefined;
  const read = (i) => {
    const off = i * m.chunkSize;
    const len = Math.min(m.chunkSize, m.size - off);
    const buf = pool ? pool[i % 2].subarray(0, len) : Buffer.allocUnsafe(len);
    const p = readAt(m.fd, buf, m.start + off).then((n) => {
      if (n < buf.length) throw new Fail('SIZE_MISMATCH', m.what + ": the stick's copy ends after " + (off + n) + ' of ' + m.size + ' bytes: the media was altered or damaged; re-copy it at headquarters', {});
      return buf;
    }, (e) => { throw new Fail('READ', e.message, { errno: e.code }); });
    job.inflight = p.then(() => undefined, () => undefined);
    return p;
  };
  let ahead = m.chunks.length > 0 ? read(0) : undefined;
  for (let i = 0; i < m.chunks.length; i++) {
    const buf = await ahead;
    ahead = undefined;
    if (job.aborted) throw ABORTED;
    const actual = createHash('sha256').update(buf).digest('hex');
    if (actual !== m.chunks[i]) {
      throw new Fail('DIGEST_MISMATCH', m.what + ': chunk ' + (i + 1) + ' of ' + m.chunks.length + ' does not match the signed chunk index: ' + m.tails.chunk, { chunk: i, expected: m.chunks[i], actual, digest: m.digest });
    }
    whole.update(buf);
    if (i + 1 < m.chunks.length) {
      ahead = read(i + 1);
      ahead.catch(() => undefined);
    }
    parentPort.postMessage({ id: job.id, read: buf.length });
    yield buf;
  }
  const actual = 'sha256:' + whole.digest('hex');
  if (actual !== m.digest) {
    throw new Fail('DIGEST_MISMATCH', m.what + ': its chunks match the signed chunk index but the blob does not match its digest ' + m.digest + ': ' + m.tails.whole, { expected: m.digest, actual });
  }
}
function takeSlot(job) {
  if (job.aborted) return Promise.reject(ABORTED);
  if (job.free.length > 0) return Promise.resolve(job.free.pop());
  return new Promise((resolve, reject) => { job.waiter = { resolve, reject }; });
}
// The decoder's own handle, driven synchronously into the ring (what zlib.gunzipSync does
// inside): no output buffer is allocated and nothing is copied. null where this Node lacks it.
function handleOf(c) {
  const d = c === 'gzip' ? zlib.createGunzip() : zlib.createZstdDecompress();
  const h = d._handle;
  const state = d._writeState;
  if (!h || typeof h.writeSync !== 'function' || !(state instanceof Uint32Array) || typeof d._finishFlushFlag !== 'number' || typeof d._defaultFlushFlag !== 'number') {
    d.close();
    return null;
  }
  let err;
  h.onerror = (message, errno, code) => { err = Object.assign(new Error(message), { errno, code }); };
  return {
    step(input, off, len, out, outOff, outLen, finish) {
      h.writeSync(finish ? d._finishFlushFlag : d._defaultFlushFlag, input, off, len, out, outOff, outLen);
      if (err) throw err;
      return [len - state[1], outLen - state[0]];
    },
    close() { d.close(); },
  };
}
class Ring {
  constructor(job) { this.job = job; this.slot = -1; this.fill = 0; this.diff = createHash('sha256'); this.bytes = 0; }
  async room() {
    if (this.slot === -1) { this.slot = await takeSlot(this.job); this.fill = 0; }
    return this.job.m.slotSize - this.fill;
  }
  view(n) { const at = this.slot * this.job.m.slotSize + this.fill; return this.job.ring.subarray(at, at + n); }
  wrote(n) {
    if (n === 0) return;
    this.diff.update(this.view(n));
    this.fill += n;
    this.bytes += n;
    if (this.fill === this.job.m.slotSize) this.post();
  }
  post() {
    if (this.slot === -1 || this.fill === 0) return;
    parentPort.postMessage({ id: this.job.id, slot: this.slot, len: this.fill });
    this.slot = -1;
  }
}
async function inflateInto(job, h, ring) {
  const feed = async (input, finish) => {
    for (let off = 0; ; ) {
      const room = await ring.room();
      const base = ring.slot * job.m.slotSize + ring.fill;
      const [used, made] = h.step(input, off, input.length - off, job.ring, base, room, finish);
      off += used;
      ring.wrote(made);
      if (made < room) return; // output not full: the input is used up (or the stream ended)
    }
  };
  for await (const buf of verified(job, true)) await feed(buf, false);
  await feed(Buffer.alloc(0), true);
}
async function copyInto(job, ring) {
  for await (const buf of verified(job, true)) {
    for (let off = 0; off < buf.length; ) {
      const n = Math.min(await ring.room(), buf.length - off);
      buf.copy(ring.view(n), 0, off, off + n);
      off += n;
      ring.wrote(n);
    }
  }
}
async function streamInto(job, ring) {
  const d = job.m.compression === 'gzip' ? zlib.createGunzip({ chunkSize: 1024 * 1024 }) : zlib.createZstdDecompress({ chunkSize: 1024 * 1024 });
  await pipeline(verified(job, false), d, async (src) => {
    for await (const out of src) {
      for (let off = 0; off < out.length; ) {
        const n = Math.min(await ring.room(), out.length - off);
        out.copy(ring.view(n), 0, off, off + n);
        off += n;
        ring.wrote(n);
      }
    }
  });
}
async function run(job) {
  const m = job.m;
  const ring = new Ring(job);
  try {
    if (m.compression === 'none') await copyInto(job, ring);
    else {
      const h = handleOf(m.compression);
      if (h === null) await streamInto(job, ring);
      else {
        try { await inflateInto(job, h, ring); } finally { h.close(); }
      }
    }
    ring.post();
    parentPort.postMessage({ id: job.id, done: true, diff: 'sha256:' + ring.diff.digest('hex'), bytes: ring.bytes });
  } catch (e) {
    let error;
    if (e instanceof Fail) error = e.ferry;
    else error = { code: 'CORRUPT_COMPRESSION', message: m.what + ': the ' + m.compression + ' stream is corrupt (' + (e && e.message) + '); re-create the image', details: {} };
    parentPort.postMessage({ id: job.id, error });
  }
  await job.inflight;
  jobs.delete(job.id);
  parentPort.postMessage({ id: job.id, closed: true });
}
parentPort.on('message', (msg) => {
  if (msg.start) {
    const m = msg.start;
    const job = { id: m.id, m, ring: Buffer.from(m.ring), free: [], waiter: undefined, aborted: false, inflight: Promise.resolve() };
    for (let s = m.slots - 1; s >= 0; s--) job.free.push(s);
    jobs.set(m.id, job);
    run(job);
    return;
  }
  const job = jobs.get(msg.id);
  if (!job) return;
  if (msg.free !== undefined) {
    const w = job.waiter;
    job.waiter = undefined;
    if (w) w.resolve(msg.free);
    else job.free.push(msg.free);
  } else if (msg.abort) {
    job.aborted = true;
    const w = job.waiter;
    job.waiter = undefined;
    if (w) w.reject(ABORTED);
  }
});
`;
