/**
 * Path globs for drift ignores (pure). Paths are absolute in the slot ("/etc/machine-id").
 * `*` matches within one component, `?` one character of a component, `**` any number of
 * components; a pattern ending in "/**" also matches the directory itself, so "/var/**"
 * ignores /var and everything below it (and the walker does not enter it).
 */

/** A compiled ignore list. */
export interface IgnoreMatcher {
  /** True when `p` (absolute, "/a/b") is ignored. */
  ignores(p: string): boolean;
  /** True when everything below directory `p` is ignored (the walk skips it). */
  prunes(p: string): boolean;
}

function toRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*' && glob[i + 1] === '*') {
      i++;
      if (glob[i + 1] === '/') {
        i++;
        re += '(?:.*/)?';
      } else re += '.*';
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`, 's');
}

/** Problems with an ignore pattern, for config validation (undefined when fine). */
export function globProblem(glob: string): string | undefined {
  if (typeof glob !== 'string' || glob === '') return 'is empty';
  if (!glob.startsWith('/') && !glob.startsWith('**')) return 'must be an absolute path pattern (start with "/")';
  if (glob.length > 4096) return 'is longer than 4096 characters';
  return undefined;
}

/** Compile ignore globs. */
export function compileIgnores(globs: readonly string[]): IgnoreMatcher {
  const full = globs.map(toRegExp);
  const prefixes = globs.filter((g) => g.endsWith('/**')).map((g) => toRegExp(g.slice(0, -3) || '/'));
  return {
    ignores: (p) => full.some((r) => r.test(p)) || prefixes.some((r) => r.test(p)),
    prunes: (p) => prefixes.some((r) => r.test(p)),
  };
}

/** The device config's `drift` section. */
export interface DriftConfig {
  /** Globs of paths drift does not report (e.g. "/var/**", "/etc/machine-id"); default none. */
  ignore: string[];
}

/** Validate `drift` of the device config, adding problems to `bad`. */
export function parseDriftConfig(v: unknown, bad: string[]): DriftConfig {
  if (v === undefined) return { ignore: [] };
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    bad.push('"drift" must be an object such as {"ignore": ["/var/**"]}');
    return { ignore: [] };
  }
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) if (k !== 'ignore') bad.push(`drift has the unknown field "${k}"`);
  if (o.ignore === undefined) return { ignore: [] };
  if (!Array.isArray(o.ignore) || o.ignore.length > 1000) {
    bad.push('drift.ignore must be a list of at most 1000 path globs');
    return { ignore: [] };
  }
  const ignore: string[] = [];
  for (const [i, g] of o.ignore.entries()) {
    const problem = typeof g === 'string' ? globProblem(g) : 'is not a string';
    if (problem) bad.push(`drift.ignore[${i}] ${problem}`);
    else ignore.push(g as string);
  }
  return { ignore };
}
