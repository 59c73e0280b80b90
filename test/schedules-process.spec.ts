/**
 * Schedules across real processes (SPEC §5.2): two worker processes, each with its own pool, tick the
 * same every-second schedule. Exactly one run and one side effect per tick, and no tick in between lost.
 * Breakage caught: a tick fired by both processes (two effects for one tick, or a run per process), or a
 * tick neither fired (a gap between the first and the last tick).
 */
import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createTestDatabase, TestDatabase } from './support/database';
import { sql } from './support/app';

const FIXTURE = join(__dirname, 'fixtures', 'schedule-process.ts');

let db: TestDatabase;
const children: ChildProcess[] = [];

beforeAll(async () => {
  db = await createTestDatabase('sched_process');
  await sql(db.url, 'create table public.sched_effects (tick text not null, worker text not null, at timestamptz not null default now())');
});

afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  await db?.drop();
});

function startWorker(name: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['-r', '@swc-node/register', FIXTURE], {
    env: { ...process.env, DB_URL: db.url, WORKER_NAME: name },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  children.push(child);
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} not ready in 30 s:\n${output}`)), 30_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('"event":"ready"')) {
        clearTimeout(timer);
        resolve(child);
      }
    });
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('exit', (code) => reject(new Error(`${name} exited (${code}) before ready:\n${output}`)));
  });
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.on('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

it('two worker processes: one run and one side effect per tick, no tick lost in between', async () => {
  const [a, b] = await Promise.all([startWorker('sched-a'), startWorker('sched-b')]);
  await new Promise((resolve) => setTimeout(resolve, 5_500));
  await Promise.all([stop(a), stop(b)]);

  const runs = await sql<{ key: string; n: number; done: number }>(
    db.url,
    `select idempotency_key as key, count(*)::int as n, count(*) filter (where status = 'COMPLETED')::int as done
     from kagzi.workflow_runs where workflow_name = 'SchedProcess.Tick' group by 1 order by 1`,
  );
  const effects = await sql<{ tick: string; n: number; workers: string }>(
    db.url,
    `select tick, count(*)::int as n, string_agg(worker, ',') as workers from public.sched_effects group by 1 order by 1`,
  );
  expect(runs.length).toBeGreaterThanOrEqual(3);
  expect(runs.every((r) => r.n === 1)).toBe(true);
  // Every completed run's step ran once; a run still in flight at the stop may not have.
  expect(effects.every((e) => e.n === 1)).toBe(true);
  expect(effects.length).toBeGreaterThanOrEqual(runs.filter((r) => r.done === 1).length);
  // Consecutive ticks, one second apart: none lost between the first and the last.
  const ticks = runs.map((r) => Date.parse(r.key.replace(/^schedule:/, '')));
  for (let i = 1; i < ticks.length; i++) expect(ticks[i] - ticks[i - 1]).toBe(1_000);
}, 60_000);
