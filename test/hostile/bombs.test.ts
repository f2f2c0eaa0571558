/** Hostile-stick corpus, bombs, lying sizes and caps: the cases that pass today (cases-bombs.ts; table in README.md). */
import { BOMB_CASES } from './cases-bombs.js';
import { defineCorpus, only } from './harness.js';

defineCorpus(
  'hostile sticks: bombs, lying sizes and caps',
  only(BOMB_CASES, ['gzip-bomb', 'zstd-bomb', 'gzip-multimember-bomb', 'bomb-across-layers', 'fills-slot', 'fills-slot-and-state', 'layer-size-huge', 'chunk-index-not-the-blob', 'deep-whiteout-bomb', 'zip-as-gzip-layer', 'unpacked-bytes-negative', 'payload-bytes-huge', 'layer-size-negative', 'manifest-over-cap', 'config-size-over-cap']),
);
