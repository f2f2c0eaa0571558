/** Hostile-stick corpus through the built CLI: a FIFO at index.json refuses the stick at once, with a record. */
import { TRUST_CASES } from './cases-trust.js';
import { defineCorpus, only } from './harness.js';

defineCorpus(
  'hostile sticks: a FIFO at index.json through the CLI',
  only(TRUST_CASES, [
    'fifo-at-index.json-cli',
  ]),
);
