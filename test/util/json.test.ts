import { describe, expect, it } from 'vitest';
import { MAX_DEPTH, nestingDepth, parseStrictJson } from '../../src/util/json.js';

const parse = (s: string) => parseStrictJson(Buffer.from(s), 4 * 1024 * 1024, 'index.json');

describe('parseStrictJson', () => {
  it('refuses a deeply nested document before parsing it (a 4 MiB bracket bomb from a stick)', () => {
    const bomb = '['.repeat(2_000_000) + ']'.repeat(2_000_000);
    const t = process.hrtime.bigint();
    expect(() => parse(bomb)).toThrow(expect.objectContaining({ code: 'LIMIT_EXCEEDED' }));
    // bounded work: the scan stops at the cap (a loose bound, not a timing assertion on ferry's speed)
    expect(Number(process.hrtime.bigint() - t) / 1e9).toBeLessThan(5);
  });

  it(`accepts ${MAX_DEPTH} levels, refuses ${MAX_DEPTH + 1}, and does not count brackets inside strings`, () => {
    const nest = (n: number) => '{"a":'.repeat(n - 1) + '[]' + '}'.repeat(n - 1);
    expect(() => parse(nest(MAX_DEPTH))).not.toThrow();
    expect(() => parse(nest(MAX_DEPTH + 1))).toThrow(expect.objectContaining({ code: 'LIMIT_EXCEEDED' }));
    expect(nestingDepth('{"x":"[[[[[[\\"[[[["}', 10)).toBe(1);
    expect(parse('{"x":"' + '['.repeat(1000) + '"}')).toEqual({ x: '['.repeat(1000) });
  });

  it('still refuses duplicate keys and invalid UTF-8', () => {
    expect(() => parse('{"a":1,"a":2}')).toThrow(expect.objectContaining({ code: 'DUPLICATE_JSON_KEY' }));
    // the same key spelt with an escape, and keys that only look alike
    expect(() => parse('{"a":1,"\\u0061":2}')).toThrow(expect.objectContaining({ code: 'DUPLICATE_JSON_KEY', message: expect.stringMatching(/"a"/) }));
    expect(() => parse('{"x":{"a":1},"y":[{"a":1},{"a\\"":2,"a":3}],"a":"a"}')).not.toThrow();
    expect(() => parse('{"x":[1,{"k":"\\\\","k":2}]}')).toThrow(expect.objectContaining({ code: 'DUPLICATE_JSON_KEY', message: expect.stringMatching(/"k"/) }));
    expect(() => parseStrictJson(Buffer.from([0x22, 0xff, 0x22]), 10, 'x')).toThrow(expect.objectContaining({ code: 'INVALID_JSON' }));
  });
});
