/** Hostile-stick corpus, terminal escapes, FIFOs through the CLI, trust across sticks: the cases that pass today (cases-trust.ts; table in README.md). */
import { TRUST_CASES } from './cases-trust.js';
import { defineCorpus, only } from './harness.js';

defineCorpus('hostile sticks: escapes on the terminal, FIFOs, trust across sticks', only(TRUST_CASES, ['crl-only-then-revoked', 'crl-refused-then-revoked', 'rollback-other-target', 'index-mediatype-escape', 'index-annotation-escape', 'update-filename-escape', 'signer-subject-escape-untrusted', 'signer-and-notes-escape-tty', 'compatible-escape', 'fifo-at-layer-cli']));
