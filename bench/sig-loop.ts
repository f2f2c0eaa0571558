/**
 * Child process for the signature row: verify one signed update manifest `n` times
 * with ferry's verifier (in-process, as the device does after reading the stick) and
 * print the mean time per verification. Usage: sig-loop.js MANIFEST P7S ROOT_PEM N
 */
import { readFileSync } from 'node:fs';
import { fromPem } from '../src/trust/der-write.js';
import { verifyUpdate } from '../src/trust/verify.js';

const [manifestPath, sigPath, rootPath, n] = process.argv.slice(2);
if (!manifestPath || !sigPath || !rootPath || !n) {
  process.stderr.write('usage: sig-loop.js MANIFEST P7S ROOT_PEM N\n');
  process.exit(2);
}
const manifest = readFileSync(manifestPath);
const sig = readFileSync(sigPath);
const root = fromPem(readFileSync(rootPath, 'utf8'), 'CERTIFICATE')[0];
if (!root) {
  process.stderr.write(`sig-loop: ${rootPath} holds no CERTIFICATE block\n`);
  process.exit(2);
}
const iterations = Number(n);
const once = (): string => verifyUpdate(manifest, sig, { roots: [root] }, {}, new Date()).manifest.id;
const t0 = process.hrtime.bigint();
const id = once(); // the first call includes lazy module and key set-up
const first = Number(process.hrtime.bigint() - t0) / 1e3;
const start = process.hrtime.bigint();
for (let i = 0; i < iterations; i++) if (once() !== id) throw new Error('verification result changed between iterations');
const perOpUs = Number(process.hrtime.bigint() - start) / 1e3 / iterations;
process.stdout.write(`${JSON.stringify({ id, firstUs: first, perOpUs, iterations })}\n`);
