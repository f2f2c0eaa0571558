/**
 * Layer compression streams: gzip and zstd through node:zlib (Node 24 has zstd built in),
 * with decoder errors turned into CORRUPT_COMPRESSION.
 */
import { PassThrough, type Transform } from 'node:stream';
import * as zlib from 'node:zlib';
import { FerryError } from '../errors.js';
import type { Compression } from './types.js';

const CHUNK = 1024 * 1024;

/** Detect a compression from the first bytes of a stream (magic numbers of RFC 1952 and RFC 8878). */
export function detectCompression(head: Uint8Array): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return 'zstd';
  return 'none';
}

function mapErrors(t: Transform, what: string, c: Compression): Transform {
  // zlib errors are emitted as plain Errors with a Z_* code; re-emit them typed.
  const origDestroy = t.destroy.bind(t);
  t.destroy = ((err?: Error | null) => {
    if (err && !(err instanceof FerryError)) {
      err = new FerryError('CORRUPT_COMPRESSION', `${what}: the ${c} stream is corrupt (${err.message}); re-create the image`, { cause: err });
    }
    return origDestroy(err ?? undefined);
  }) as typeof t.destroy;
  return t;
}

/** A decoder for `c` ("none" passes through). */
export function decompressor(c: Compression, what = 'layer'): Transform {
  switch (c) {
    case 'none':
      return new PassThrough({ highWaterMark: CHUNK });
    case 'gzip':
      return mapErrors(zlib.createGunzip({ chunkSize: CHUNK }), what, c);
    case 'zstd':
      return mapErrors(zlib.createZstdDecompress({ chunkSize: CHUNK }), what, c);
  }
}

/** An encoder for `c` ("none" passes through). gzip level 6 and zstd level 3 are the tools' defaults. */
export function compressor(c: Compression): Transform {
  switch (c) {
    case 'none':
      return new PassThrough({ highWaterMark: CHUNK });
    case 'gzip':
      return zlib.createGzip({ level: 6, chunkSize: CHUNK });
    case 'zstd':
      return zlib.createZstdCompress({ chunkSize: CHUNK, params: { [zlib.constants.ZSTD_c_compressionLevel]: 3 } });
  }
}
