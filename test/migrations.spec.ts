/**
 * Migrations when replicas boot together: on a fresh database (or with a new migration pending), every
 * process runs the migrations at boot. They take turns under an advisory lock; without it two processes
 * run migration 1 at once and one fails its boot ("relation workflow_runs already exists").
 */
import { createTestDatabase, TestDatabase } from './support/database';
import { bootKagzi, closeAllApps, sql } from './support/app';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase('migrations_race');
});

afterAll(async () => {
  await closeAllApps();
  await db?.drop();
});

it('four apps booting at once on a fresh database all start; each migration is applied once', async () => {
  const apps = await Promise.all(Array.from({ length: 4 }, () => bootKagzi({ url: db.url, providers: [], worker: false })));
  expect(apps).toHaveLength(4);
  const applied = await sql<{ name: string; n: number }>(db.url, 'select name, count(*)::int as n from kagzi.kagzi_migrations group by name order by name');
  expect(applied.length).toBeGreaterThanOrEqual(13);
  expect(applied.every((m) => m.n === 1)).toBe(true);
});
