/**
 * PayloadSerializer.encode and hashArguments on values that defeat a naive serializer: nesting
 * deep enough to overflow a recursive walk, getters that throw, values superjson cannot read.
 * Pure: no database.
 */
import { UnserializableValueError } from '../errors/unserializable-value.error';
import { MAX_PAYLOAD_DEPTH, inspectPayload } from './payload.inspector';
import { PayloadSerializer, hashArguments } from './payload.serializer';

const serializer = new PayloadSerializer(64 * 1024 * 1024);

/** `levels` objects, each inside the one before: `{ next: { next: ... } }`. */
function nested(levels: number, leaf: unknown = 'leaf'): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  let cur = root;
  for (let i = 1; i < levels; i++) cur = (cur.next = {}) as Record<string, unknown>;
  cur.leaf = leaf;
  return root;
}

function thrownBy(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err: unknown) {
    return err;
  }
  throw new Error('expected a throw');
}

describe('PayloadSerializer.encode: nesting depth', () => {
  it(`accepts ${MAX_PAYLOAD_DEPTH} levels and round-trips them`, () => {
    const value = nested(MAX_PAYLOAD_DEPTH, new Date(0));
    const { text } = serializer.encode(value, 'input of workflow "Deep"');
    expect(serializer.decode(JSON.parse(text))).toEqual(value);
  });

  it.each([MAX_PAYLOAD_DEPTH + 1, 20_000])('rejects %i levels with UnserializableValueError, not a RangeError', (levels) => {
    const err = thrownBy(() => serializer.encode(nested(levels), 'input of workflow "Deep"'));
    expect(err).toBeInstanceOf(UnserializableValueError);
    expect((err as UnserializableValueError).code).toBe('KAGZI_UNSERIALIZABLE_VALUE');
    expect((err as Error).message).toMatch(new RegExp(`^Cannot store the input of workflow "Deep": \\$\\.next.* is nested deeper than ${MAX_PAYLOAD_DEPTH} levels`));
  });

  it('names the path, shortened in the middle', () => {
    expect(() => serializer.encode(nested(20_000), 'input of workflow "Order"')).toThrow(
      'Cannot store the input of workflow "Order": $.next.next.next.next.next.next…(988 more)….next.next.next.next.next.next is nested deeper than 1000 levels.',
    );
  });

  it('counts arrays, Sets and Maps (two levels each: stored as [key, value] pairs)', () => {
    const arrays = (n: number): unknown => { let v: unknown = 1; for (let i = 0; i < n; i++) v = [v]; return v; };
    const maps = (n: number): unknown => { let v: unknown = 1; for (let i = 0; i < n; i++) v = new Map([['k', v]]); return v; };
    const sets = (n: number): unknown => { let v: unknown = 1; for (let i = 0; i < n; i++) v = new Set([v]); return v; };
    expect(inspectPayload(arrays(MAX_PAYLOAD_DEPTH))).toBeUndefined();
    expect(inspectPayload(arrays(MAX_PAYLOAD_DEPTH + 1))).toMatch(/nested deeper/);
    expect(inspectPayload(sets(MAX_PAYLOAD_DEPTH + 1))).toMatch(/nested deeper/);
    expect(inspectPayload(maps(MAX_PAYLOAD_DEPTH / 2))).toBeUndefined();
    expect(inspectPayload(maps(MAX_PAYLOAD_DEPTH / 2 + 1))).toMatch(/nested deeper/);
    // the deepest Maps allowed still go through superjson without overflowing
    expect(() => serializer.encode(maps(MAX_PAYLOAD_DEPTH / 2), 'maps')).not.toThrow();
  });

  it('still names the first function, symbol or Promise by path, and accepts shared and cyclic references', () => {
    expect(() => serializer.encode({ a: [1, { cb: () => 1 }] }, 'x')).toThrow('Cannot store the x: $.a[1].cb is a function');
    expect(() => serializer.encode(new Map([['k', Promise.resolve(1)]]), 'x')).toThrow('$.get(k) is a Promise');
    const cyclic: Record<string, unknown> = { id: 1 };
    cyclic.self = cyclic;
    const back = serializer.decode<Record<string, unknown>>(JSON.parse(serializer.encode(cyclic, 'x').text));
    expect(back.self).toBe(back);
  });

  it('a getter that throws gives UnserializableValueError, not the raw error', () => {
    const value = { get total(): number { throw new Error('not loaded'); } };
    const err = thrownBy(() => serializer.encode(value, 'output of step "Cart.total"'));
    expect(err).toBeInstanceOf(UnserializableValueError);
    expect((err as Error).message).toContain('Cannot store the output of step "Cart.total": $.total cannot be read: it threw "not loaded"');
  });
});

describe('hashArguments', () => {
  it('is stable and tells different arguments apart', () => {
    expect(hashArguments(['a', { n: 1 }])).toBe(hashArguments(['a', { n: 1 }]));
    expect(hashArguments(['a', { n: 1 }])).not.toBe(hashArguments(['a', { n: 2 }]));
    expect(hashArguments([1n])).not.toBe(hashArguments(['1']));
  });

  it('fails with UnserializableValueError naming the argument instead of hashing only how many there are', () => {
    const unreadable = { get x(): number { throw new Error('boom'); } };
    const err = thrownBy(() => hashArguments(['ok', unreadable], 'Cart.total'));
    expect(err).toBeInstanceOf(UnserializableValueError);
    expect((err as Error).message).toBe('Cannot fingerprint the arguments of the call of step "Cart.total": argument 2.x cannot be read: it threw "boom".');
    // the old fallback: two different calls with two arguments each got the same fingerprint
    expect(() => hashArguments(['other', unreadable])).toThrow(UnserializableValueError);
  });

  it('names the argument superjson cannot serialize (a throwing toJSON, a revoked Proxy)', () => {
    expect(() => hashArguments(['ok', { toJSON: () => { throw new Error('tj'); } }], 'S')).toThrow(
      'Cannot serialize argument 2 of the call of step "S": reading it threw "tj". Pass plain data.',
    );
    const revoked = Proxy.revocable({}, {});
    revoked.revoke();
    const err = thrownBy(() => hashArguments([{ inner: revoked.proxy }], 'S'));
    expect(err).toBeInstanceOf(UnserializableValueError);
    expect((err as Error).message).toMatch(/^Cannot fingerprint the arguments of the call of step "S": argument 1\.inner cannot be read/);
  });

  it('rejects an argument nested deeper than the limit before any recursion', () => {
    const err = thrownBy(() => hashArguments(['ok', nested(20_000)], 'Deep.step'));
    expect(err).toBeInstanceOf(UnserializableValueError);
    expect((err as Error).message).toMatch(/^Cannot fingerprint the arguments of the call of step "Deep.step": argument 2\.next.* is nested deeper than 1000 levels\.$/);
  });

  it('keeps hashing functions as superjson stores them (as null), as before', () => {
    expect(hashArguments([() => 1])).toBe(hashArguments([() => 2]));
  });
});
