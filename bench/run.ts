/** `npm run bench [-- --smoke] [-- --sizes 256M,1G] [-- --runs N]`: entry point (the only place that exits). */
import { readFile } from 'node:fs/promises';
import { parseBenchArgs } from './args.js';
import { runBench } from './bench.js';
import { repoRoot } from './ferry.js';

// Ctrl-C or a kill: exit through process.exit so the loop device is detached (loop.ts)
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => process.exit(130));

try {
  const opts = parseBenchArgs(process.argv.slice(2), repoRoot());
  const out = await runBench(opts, (s) => process.stderr.write(`bench: ${s}\n`));
  process.stdout.write(`${out.markdownPath}\n${out.jsonPath}\n`);
  process.stdout.write(await readFile(out.markdownPath, 'utf8'));
} catch (e) {
  process.stderr.write(`bench: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
}
