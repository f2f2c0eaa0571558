/** Hostile-stick corpus, no key: special files, links and too many entries that refuse the whole stick (each must still leave a lastResult and a receipt). */
import { MEDIA_CASES } from './cases-media.js';
import { defineCorpus, only } from './harness.js';

const SPECIAL = [
  ...['FERRY', 'oci', 'blobs', 'oci-layout', 'index.json', 'manifest', 'update', 'signature', 'crl'].map((p) => `fifo-at-${p}`),
  ...['FERRY', 'oci', 'blobs', 'oci-layout', 'index.json', 'update', 'signature', 'crl'].map((p) => `symlink-at-${p}`),
  'socket-at-index.json',
  'socket-at-update',
  'char-at-oci-layout',
];

defineCorpus(
  'hostile sticks: no key, special files and counts that refuse the whole stick',
  only(MEDIA_CASES, [...SPECIAL, 'many-updates', 'many-index-entries', 'archive-fifo', 'archive-symlink-member']),
);
