/**
 * Reading a YAML (or JSON) document node by node, collecting every problem with its line
 * instead of stopping at the first: a campaign file is refused listing all of them at once.
 * Pure: text in, values and problems out (yaml's parseDocument keeps node ranges; its
 * LineCounter turns offsets into lines).
 */
import { isMap, isScalar, isSeq, LineCounter, type Node, parseDocument, type Scalar, type YAMLMap } from 'yaml';
import type { CampaignProblem } from './types.js';

/** The parsed document's walker: every check notes a problem and returns undefined instead of throwing. */
export class YamlWalk {
  readonly problems: CampaignProblem[] = [];
  readonly root: Node | undefined;
  private readonly lines = new LineCounter();

  constructor(readonly file: string, text: string) {
    // uniqueKeys (the default) reports a repeated key as an error with its line
    const doc = parseDocument(text, { lineCounter: this.lines, prettyErrors: false, uniqueKeys: true });
    for (const e of [...doc.errors, ...doc.warnings]) this.problems.push({ file, line: this.lines.linePos(e.pos[0]).line, message: firstLine(e.message) });
    this.root = (doc.contents ?? undefined) as Node | undefined;
  }

  /** The 1-based line of a node (line 1 for a missing one). */
  line(node: Node | undefined): number {
    return node?.range ? this.lines.linePos(node.range[0]).line : 1;
  }

  /** Note a problem at a node. */
  fail(node: Node | undefined, message: string): undefined {
    this.problems.push({ file: this.file, line: this.line(node), message });
    return undefined;
  }

  /** A mapping whose keys are all in `known` (each unknown key is a problem); key → value node. */
  map(node: Node | undefined, what: string, known: readonly string[]): Map<string, Node | undefined> | undefined {
    if (!isMap(node)) return this.fail(node, `${what} must be a mapping of keys to values`);
    const out = new Map<string, Node | undefined>();
    for (const pair of (node as YAMLMap<Node, Node>).items) {
      const key = pair.key as Node;
      const name = isScalar(key) ? String(key.value) : undefined;
      if (name === undefined) this.fail(key, `${what}: a key must be a plain name`);
      else if (!known.includes(name)) this.fail(key, `${what}: unknown key "${name}" (known: ${known.join(', ')})`);
      else out.set(name, (pair.value ?? undefined) as Node | undefined);
    }
    return out;
  }

  /** A non-empty string (a number is taken as written, e.g. version: 2.0 stays "2.0"). */
  str(node: Node | undefined, what: string): string | undefined {
    if (!isScalar(node) || node.value === null || typeof node.value === 'boolean' || typeof node.value === 'object') return this.fail(node, `${what} must be a text value`);
    const s = typeof node.value === 'number' ? String((node as Scalar).source ?? node.value) : String(node.value);
    return s === '' ? this.fail(node, `${what} must not be empty`) : s;
  }

  /** A non-negative integer. */
  int(node: Node | undefined, what: string): number | undefined {
    if (!isScalar(node) || typeof node.value !== 'number' || !Number.isSafeInteger(node.value) || node.value < 0) return this.fail(node, `${what} must be a non-negative integer`);
    return node.value;
  }

  /** true or false. */
  bool(node: Node | undefined, what: string): boolean | undefined {
    if (!isScalar(node) || typeof node.value !== 'boolean') return this.fail(node, `${what} must be true or false`);
    return node.value;
  }

  /** A list (a single value is not silently taken as a list of one). */
  seq(node: Node | undefined, what: string): (Node | undefined)[] | undefined {
    if (!isSeq(node)) return this.fail(node, `${what} must be a list`);
    return node.items as (Node | undefined)[];
  }

  /** A list of non-empty strings, each with its node. */
  strings(node: Node | undefined, what: string): { value: string; node: Node | undefined }[] | undefined {
    const items = this.seq(node, what);
    if (!items) return undefined;
    const out: { value: string; node: Node | undefined }[] = [];
    items.forEach((n, i) => {
      const v = this.str(n, `${what}[${i}]`);
      if (v !== undefined) out.push({ value: v, node: n });
    });
    return out;
  }
}

function firstLine(s: string): string {
  return s.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
}
