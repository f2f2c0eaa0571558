/**
 * `npm run build` (after tsc): the HQ command line as an esbuild bundle, `dist/cli/ferry.js`
 * (package.json's `bin`; the bench bundles its own snapshot of dist/ the same way), made from
 * tsc's output so it always matches dist/src/. Why: before its first byte of work every `ferry`
 * run loaded ~35 ES modules one by one (commander's 6 files, ferry's ~25: resolve, stat, link),
 * and Node builds an ES module facade for each built-in module imported, reading every export:
 * that runs lazy getters (node:util's `diff`, node:fs's `ReadStream`...) and loads built-ins
 * nobody uses (commander's `node:child_process` import pulled in net, dgram and child_process on
 * every run): 108 built-ins for a `ferry verify`, 71 now. The bundle keeps src/cli/lazy.ts's
 * per-command loading (code splitting: each command is a chunk its dynamic import loads), and
 * reaches built-ins through `process.getBuiltinModule` behind getters, so a built-in loads on its
 * first use. One file without splitting was slower (1.9 MB to compile: +25 ms CPU).
 * Measured (bench/results/2026-12-02-s22-startup.md, paired, load 12-14, real-time priority):
 * `ferry verify --help` 81 -> 69 ms, verify of a tiny stick 102 -> 82 ms, of the rootfs stick
 * 321 -> 298 ms (openssl dgst 253 ms).
 *
 * `ferry verify` runs from a bundle of its own, one file without splitting (`ferry-verify.js`):
 * the split build reached it through ~20 chunks, and Node's ES module loader pays for each
 * (resolve, realpath, package scope, compile cache lookup, link): verify of a tiny stick 110 ->
 * 94 ms at real-time priority (load 4-5, 12 rounds), against ~40 ms for `node -e 0`. It is
 * verify alone because it is the command timed against a C tool's whole run (`openssl dgst`
 * over the stick's blobs) where start-up is a fifth of the ratio; its --trust code is in the
 * same file (307 KB in all; none of it runs without --trust). `ferry export` likewise (timed against
 * `skopeo copy`, a Go binary that starts in a few ms): 52 chunks before, one file of 444 KB now;
 * `ferry export --help` 94 -> 80 ms (20 rounds alternating, mean; faster in 16), with the
 * --max-semi-space-size flag of the #! line.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';
import { NODE_FLAGS } from '../src/node-flags.js';

/** The folder built code lives in (this file runs as dist/scripts/build-cli.js). */
const DIST = join(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * A module whose exports are a plain object can stand behind getters (its names listed now, from
 * the Node that builds, which is the Node that runs: the npm `node` package); one that exports a
 * function or class (node:events, node:stream, node:process...) is loaded when imported, as before.
 */
function builtinShim(name: string): string {
  const mod = process.getBuiltinModule(name) as unknown;
  const load = `process.getBuiltinModule(${JSON.stringify(name)})`;
  if (typeof mod !== 'object' || mod === null || Object.getPrototypeOf(mod) !== Object.prototype) return `module.exports = ${load};`;
  const names = Object.getOwnPropertyNames(mod).filter((k) => k !== 'default' && k !== '__esModule');
  return [
    'let m;',
    `const load = () => (m ??= ${load});`,
    `for (const k of ${JSON.stringify(names)}) Object.defineProperty(module.exports, k, { get: () => load()[k], enumerable: true });`,
  ].join('\n');
}

/** Static imports of built-ins become lazy shims (above); dynamic ones stay real `import()`s, already lazy. */
const lazyBuiltins: Plugin = {
  name: 'ferry-lazy-builtins',
  setup(b) {
    b.onResolve({ filter: /^[a-z_:/]+$/ }, (a) => {
      if (!isBuiltin(a.path)) return undefined;
      const name = a.path.startsWith('node:') ? a.path : `node:${a.path}`;
      if (a.kind === 'dynamic-import') return { path: name, external: true };
      return { path: name, namespace: 'builtin' };
    });
    b.onLoad({ filter: /.*/, namespace: 'builtin' }, (a) => ({ contents: builtinShim(a.path), loader: 'js' }));
  },
};

/** The commands with a bundle of their own (see the top of this file), and their file names. */
export const OWN_BUNDLES: Readonly<Record<string, string>> = { verify: 'ferry-verify', export: 'ferry-export' };

/**
 * In a command's own bundle, the other commands' modules (and the whole tree, program.js) are
 * never loaded: the entry sends only that command there. Left as imports they would pull the whole
 * CLI into the file; this module stands in for them and says what went wrong if one is reached.
 */
function onlyCommand(name: string): Plugin {
  return {
    name: 'ferry-only-command',
    setup(b) {
      b.onResolve({ filter: /^\.\/(commands\/[a-z-]+|program)\.js$/ }, (a) => {
        if (a.kind !== 'dynamic-import' || !a.importer.endsWith(join('cli', 'lazy.js')) || a.path === `./commands/${name}.js`) return undefined;
        return { path: a.path, namespace: 'elsewhere' };
      });
      b.onLoad({ filter: /.*/, namespace: 'elsewhere' }, (a) => ({ contents: `throw new Error(${JSON.stringify(`ferry: ${a.path} is not in the ${name} bundle (dist/cli/ferry.js routes only "${name}" there)`)});`, loader: 'js' }));
    },
  };
}

/**
 * The executable entry: compile cache on, then the bundle. The cache is per user
 * (`$XDG_CACHE_HOME/ferry-compile-cache`, else `~/.cache/ferry-compile-cache`; Node itself uses
 * `$NODE_COMPILE_CACHE` when set), not Node's default `<tmpdir>/node-compile-cache`: V8 trusts a
 * code cache's bytecode, so a folder other users can write into must not feed a signing tool.
 * Node keys each entry by the file's content and its own version: a stale entry is recompiled and
 * replaced. The folder is made here, one level at a time, and the cache is turned on only once it
 * exists: Node 24.21's own recursive mkdir for it spins forever where mkdir keeps failing with
 * ENOENT (a cache folder under /proc hung `ferry` at 100% CPU); a folder that cannot be made
 * (read-only home) means no cache, nothing else.
 */
export const CLI_ENTRY = [
  `#!/usr/bin/env -S node ${NODE_FLAGS.join(' ')}`,
  '// The `ferry` command: the bundle scripts/build-cli.ts writes, with Node\'s compile cache (see there).',
  'const env = process.env;',
  "const base = env.XDG_CACHE_HOME?.startsWith('/') ? env.XDG_CACHE_HOME : env.HOME ? `${env.HOME}/.cache` : undefined;",
  'if (base !== undefined && !env.NODE_COMPILE_CACHE && !env.NODE_DISABLE_COMPILE_CACHE) {',
  "  const fs = process.getBuiltinModule('node:fs');",
  '  const dir = `${base}/ferry-compile-cache`;',
  '  for (const d of [base, dir]) try { fs.mkdirSync(d, { mode: 0o700 }); } catch { /* there already, or cannot be: checked below */ }',
  "  if (fs.statSync(dir, { throwIfNoEntry: false })?.isDirectory()) process.getBuiltinModule('node:module').enableCompileCache?.(dir);",
  '}',
  // the command as src/cli/lazy.ts's commandName finds it: the first argument not an option
  "const command = process.argv.slice(2).find((a) => !a.startsWith('-'));",
  `const own = ${JSON.stringify(OWN_BUNDLES)};`,
  "await import(command !== undefined && Object.hasOwn(own, command) ? `./${own[command]}.js` : './main.js');",
  '',
].join('\n');

/** Bundle dist/src/cli/main.js (tsc's output under `dist`) into `out`; returns the entry, `<out>/ferry.js`. */
export async function buildCli(dist: string = DIST, out: string = join(dist, 'cli')): Promise<string> {
  // chunk names carry content hashes: an earlier build's chunks would pile up
  rmSync(out, { recursive: true, force: true });
  await build({
    entryPoints: [join(dist, 'src/cli/main.js')],
    outdir: out,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node24',
    logLevel: 'warning',
    // the TUI's widgets load blessed by name (scripts/build-device.ts bundles it for the device)
    external: ['blessed'],
    plugins: [lazyBuiltins],
  });
  for (const [name, file] of Object.entries(OWN_BUNDLES)) {
    await build({
      entryPoints: { [file]: join(dist, 'src/cli/main.js') },
      outdir: out,
      bundle: true,
      format: 'esm',
      platform: 'node',
      target: 'node24',
      logLevel: 'warning',
      external: ['blessed'],
      plugins: [lazyBuiltins, onlyCommand(name)],
    });
  }
  const entry = join(out, 'ferry.js');
  writeFileSync(entry, CLI_ENTRY, { mode: 0o755 });
  return entry;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) await buildCli();
