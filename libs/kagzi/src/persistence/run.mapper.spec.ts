/**
 * listRuns cursors (encodeCursor / decodeCursor): a cursor round-trips the exact timestamp text and the
 * run id, and anything listRuns did not issue is refused with InvalidOptionsError before it reaches SQL.
 * Pure: no database.
 */
import { InvalidOptionsError } from '../errors/invalid-options.error';
import { decodeCursor, encodeCursor } from './run.mapper';
import { RunRow } from './run.rows';

const RUN_ID = '0b7e2f4a-8c1d-4e5f-9a6b-3c2d1e0f9a8b';

function row(overrides: Partial<RunRow> = {}): RunRow {
  return {
    id: RUN_ID,
    workflow_name: 'order',
    workflow_version: 1,
    status: 'COMPLETED',
    idempotency_key: null,
    created_at: new Date('2030-01-02T03:04:05.678Z'),
    updated_at: new Date('2030-01-02T03:04:05.678Z'),
    completed_at: null,
    ...overrides,
  };
}

const forged = (payload: unknown): string => Buffer.from(JSON.stringify(payload)).toString('base64url');

describe('encodeCursor / decodeCursor', () => {
  it('round-trips the database’s timestamp text, microseconds included', () => {
    const cursor = encodeCursor(row({ cursor_at: '2030-01-02 03:04:05.678901+00' }));
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/); // URL-safe, no padding
    expect(decodeCursor(cursor)).toEqual({ createdAt: '2030-01-02 03:04:05.678901+00', id: RUN_ID });
  });

  it('falls back to created_at (ISO) when the row has no cursor text', () => {
    expect(decodeCursor(encodeCursor(row()))).toEqual({ createdAt: '2030-01-02T03:04:05.678Z', id: RUN_ID });
  });

  it('accepts the offsets PostgreSQL prints (+05, +05:30, -08)', () => {
    for (const at of ['2030-01-02 03:04:05+05', '2030-01-02 03:04:05.1+05:30', '2030-01-02 03:04:05-08']) {
      expect(decodeCursor(forged([at, RUN_ID])).createdAt).toBe(at);
    }
  });

  it('accepts an upper-case run id', () => {
    expect(decodeCursor(forged(['2030-01-02 03:04:05+00', RUN_ID.toUpperCase()])).id).toBe(RUN_ID.toUpperCase());
  });
});

describe('decodeCursor refuses cursors listRuns never issued', () => {
  it.each([
    ['garbage text', 'not-a-cursor'],
    ['an empty string', ''],
    ['base64 of text that is not JSON', Buffer.from('hello').toString('base64url')],
    ['JSON null', forged(null)],
    ['a JSON number', forged(42)],
    ['a JSON object', forged({ createdAt: '2030-01-02 03:04:05+00', id: RUN_ID })],
    ['an empty array', forged([])],
    ['a bad timestamp', forged(['yesterday-ish', RUN_ID])],
    ['a timestamp that is not a string', forged([1_700_000_000_000, RUN_ID])],
    ['a bad run id', forged(['2030-01-02 03:04:05+00', '------------------------------------'])],
    ['a run id that is not a string', forged(['2030-01-02 03:04:05+00', 7])],
    ['a missing run id', forged(['2030-01-02 03:04:05+00'])],
    ['a run id with extra text', forged(['2030-01-02 03:04:05+00', `${RUN_ID}x`])],
    ['a bare number as the timestamp (Date.parse takes it, PostgreSQL does not)', forged(['1', RUN_ID])],
    ['a bare year as the timestamp', forged(['2030', RUN_ID])],
    ['a six-digit year', forged(['+275760-09-13T00:00:00.000Z', RUN_ID])],
  ])('%s', (_what, cursor) => {
    let caught: unknown;
    try {
      decodeCursor(cursor);
    } catch (err: unknown) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(InvalidOptionsError);
    expect(caught).toMatchObject({
      code: 'KAGZI_INVALID_OPTIONS',
      message: 'listRuns(): cursor is not one returned by listRuns; pass nextCursor unchanged',
    });
  });
});
