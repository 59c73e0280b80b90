/** Workflow and step names, and text PostgreSQL cannot store as given (NUL, lone surrogates). Pure. */
import { MAX_NAME_LENGTH, nameProblem, textProblem } from './names';

describe('nameProblem', () => {
  it.each([['order'], ['Payments.charge'], ['名前'], ['emoji 🚚'], ['x'.repeat(MAX_NAME_LENGTH)]])('accepts %j', (name) => {
    expect(nameProblem(name)).toBeUndefined();
  });

  it.each([[''], [undefined], [null], [42], [{}]])('refuses %j: not a non-empty string', (name) => {
    expect(nameProblem(name)).toBe('must be a non-empty string');
  });

  it('refuses a name over the limit, saying how long it is', () => {
    expect(nameProblem('x'.repeat(MAX_NAME_LENGTH + 1))).toBe(`must be at most ${MAX_NAME_LENGTH} characters; got ${MAX_NAME_LENGTH + 1}`);
  });

  it('refuses what text cannot store', () => {
    expect(nameProblem('a\u0000b')).toBe('must not contain NUL (\\u0000)');
    expect(nameProblem('a\uD800b')).toMatch(/lone surrogate/);
  });
});

describe('textProblem', () => {
  it('accepts well-formed text, including surrogate pairs', () => {
    expect(textProblem('')).toBeUndefined();
    expect(textProblem('plain')).toBeUndefined();
    expect(textProblem('\uD83D\uDE9A')).toBeUndefined(); // 🚚 as a pair
  });

  it('refuses NUL anywhere', () => {
    expect(textProblem('\u0000')).toBe('must not contain NUL (\\u0000)');
    expect(textProblem('end\u0000')).toBe('must not contain NUL (\\u0000)');
  });

  it.each([
    ['a high half at the end', 'a\uD83D'],
    ['a high half before a non-low', '\uD83Dx'],
    ['a low half at the start', '\uDE9Ax'],
    ['a low half after a non-high', 'x\uDE9A'],
    ['two high halves', '\uD83D\uD83D'],
  ])('refuses a lone surrogate: %s', (_what, text) => {
    expect(textProblem(text)).toBe('must be well-formed Unicode (it contains a lone surrogate)');
  });
});
