/** Hostile-stick corpus, no key (a signed stick altered afterwards): the cases that pass today (cases-media.ts; table in README.md). */
import { MEDIA_CASES } from './cases-media.js';
import { defineCorpus, only } from './harness.js';

defineCorpus(
  'hostile sticks: no key, a signed stick altered afterwards',
  only(MEDIA_CASES, [
    'chunk-first',
    'chunk-middle',
    'chunk-last',
    'chunk-index-swapped',
    'no-chunk-index',
    'fifo-at-config',
    'fifo-at-layer',
    'symlink-at-layer',
    'char-at-layer',
    'tampered-pax-exploit',
    'receipts-symlink',
    'chunk-middle-gzip',
    'chunk-last-zstd',
    'layer-and-chunk-index-replaced',
    'tampered-gzip-bomb',
    'index-other-manifest',
    'manifest-blob-tampered',
    'config-blob-tampered',
    'layer-truncated',
    'layer-extended',
    'update-json-edited',
    'update-json-over-cap',
    'index-json-over-cap',
  ]),
);
