/**
 * A ~1 GiB oci-archive for measuring `ferry export` (e.g. the cost of --check-layers)
 * against `skopeo copy`, generated deterministically with the bench's generator
 * (seeded rootfs tree → gzip layers → skopeo oci-archive). Cached in WORKDIR.
 *
 * Run: node dist/samples/big-archive.js WORKDIR [SIZE=1G] [SEED=20261122]
 * Prints the path of the oci-archive.
 */
import { prepareInputs } from '../bench/inputs.js';

const [workdir, size = '1G', seed = '20261122'] = process.argv.slice(2);
if (!workdir) {
  process.stderr.write('usage: big-archive.js WORKDIR [SIZE] [SEED]\n');
  process.exit(2);
}
const inputs = await prepareInputs(workdir, size, Number(seed), (s) => process.stderr.write(s + '\n'));
process.stdout.write(inputs.archive.v1 + '\n');
