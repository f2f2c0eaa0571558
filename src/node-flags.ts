/**
 * The Node/V8 options every ferry process runs with: the `ferry` and `ferry-tui` scripts' `#!`
 * lines (`env -S`), the device executable's SEA `execArgv` (scripts/build-device.ts) and the
 * bench's runs of the built CLI. test/cli/node-flags.test.ts keeps the three in step.
 *
 * `--max-semi-space-size=4` (MiB): since Node 22, V8 sizes the young generation from the host's
 * RAM, up to 64 MiB per semi-space on this 24 GiB machine. Dead 4 MiB chunk buffers and 1 MiB
 * gunzip outputs then wait for a scavenge that only comes after ~64 MiB of new allocation, and
 * an incremental apply of a 1 GiB image peaked at 212-240 MiB RSS (target 200). Measured in one
 * bench session (1 GiB, load 8-13): default 212 MiB, 16 MiB semi-spaces 186 MiB, 4 MiB 167-171 MiB,
 * with no more CPU (incremental 9.6 / 9.0 / 5.9 s, the full apply 18.9-19.2 s in all three).
 * A kiosk with 2-4 GiB of RAM gets small semi-spaces from V8 anyway; this makes the bench host
 * behave like the device.
 *
 * `--heap-growing-percent=25`: after a full GC V8 lets the old generation grow by a factor it picks
 * from GC speed (up to ~4x); an incremental apply at the 4 GiB image's entry count (78,489 entries,
 * two file indexes in memory, ~58 MiB live) let it reach 113 MiB of heap before the next full GC
 * and peaked at 222-268 MiB RSS. With growth fixed at 1.25x: 194-198 MiB, with no more CPU
 * (A/B alternating on one device, load 5-13: 14.2-20.6 s vs 13.2-14.9 s; 1.5x gave 203-207 MiB).
 * bench/results/2026-12-02-4G-rss.md. It is set at run time (applyRuntimeFlags), not on the `#!`
 * line: V8 hashes its flags into every code cache, and with this one on the command line Node's
 * built-in code cache was rejected, so every built-in module loaded after start-up (node:crypto,
 * node:child_process, streams...) compiled from source: ~25 ms more before `ferry verify`'s first
 * read (15 rounds alternating, real-time priority: 621 vs 587 ms). The growth factor is read at
 * every full GC, so set after the command's modules load it acts the same (a 60 MiB live set
 * with promoted garbage: 452 MiB peak heap without it, 152 on the command line, 153 at run time).
 */
export const NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4'];

/** V8 options every ferry process sets at run time, once its modules are loaded (see above). */
export const RUNTIME_V8_FLAGS: readonly string[] = ['--heap-growing-percent=25'];

/** Set RUNTIME_V8_FLAGS: call once the modules a run needs are loaded, before its work starts. */
export function applyRuntimeFlags(): void {
  const v8 = process.getBuiltinModule('node:v8');
  for (const f of RUNTIME_V8_FLAGS) v8.setFlagsFromString(f);
}
