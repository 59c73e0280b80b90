import { ConsoleLogger, Provider } from '@nestjs/common';
import { Test, TestingModule } from '@nestjs/testing';
import { Client } from 'pg';
import { KagziModule, KagziModuleOptions, KagziWorker, RunStatus, WorkerOptions, WorkflowClient, WorkflowHandle } from '@kagzi/nestjs';

/**
 * Worker settings for tests: claims within 200 ms, leases that expire within 2 s, and a short drain so
 * closing an app with a blocked run hands it back quickly.
 */
export const FAST_WORKER: Readonly<WorkerOptions> = {
  pollInterval: '200ms',
  leaseDuration: '2s',
  heartbeatInterval: '500ms',
  shutdownTimeout: '300ms',
};

export interface BootOptions extends Omit<KagziModuleOptions, 'database' | 'worker'> {
  /** PostgreSQL URL of the test database (from createTestDatabase). */
  url: string;
  /** Workflows, services with @Step methods, anything the test needs in the container. */
  providers?: Provider[];
  /** Merged over FAST_WORKER; `false` makes a client-only app. */
  worker?: WorkerOptions | false;
}

export interface KagziTestApp {
  app: TestingModule;
  client: WorkflowClient;
  worker: KagziWorker;
  /** Closes the Nest context (worker drain, pool, LISTEN connection). Idempotent. */
  close(): Promise<void>;
}

const openApps = new Set<KagziTestApp>();

/**
 * Boots a Nest application context with `KagziModule.forRoot({ database: { url }, ... })` and the given
 * providers, runs `init()` (so the worker is polling when this resolves), and returns its client.
 * Logs only errors.
 */
export async function bootKagzi(options: BootOptions): Promise<KagziTestApp> {
  const { url, providers = [], worker, ...moduleOptions } = options;
  const workerOptions: WorkerOptions | false = worker === false ? false : { ...FAST_WORKER, ...worker };
  const moduleRef = await Test.createTestingModule({
    imports: [KagziModule.forRoot({ database: { url }, worker: workerOptions, ...moduleOptions })],
    providers,
  })
    .setLogger(new ConsoleLogger({ logLevels: ['error'] }))
    .compile();
  try {
    await moduleRef.init();
  } catch (err: unknown) {
    await moduleRef.close().catch(() => undefined);
    throw err;
  }
  let closing: Promise<void> | undefined;
  const booted: KagziTestApp = {
    app: moduleRef,
    client: moduleRef.get(WorkflowClient),
    worker: moduleRef.get(KagziWorker),
    close: () =>
      (closing ??= (async () => {
        openApps.delete(booted);
        await moduleRef.close();
      })()),
  };
  openApps.add(booted);
  return booted;
}

/** Safety net for afterAll: closes every app a failed test left open. */
export async function closeAllApps(): Promise<void> {
  await Promise.all([...openApps].map((a) => a.close().catch(() => undefined)));
}

/** Runs one SQL statement against the test database on a connection of its own. */
export async function sql<R extends Record<string, unknown> = Record<string, unknown>>(
  url: string,
  text: string,
  values: unknown[] = [],
): Promise<R[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<R>(text, values)).rows;
  } finally {
    await client.end();
  }
}

/** Polls `probe` until it returns something truthy; fails naming `what` after `timeoutMs`. */
export async function waitFor<T>(what: string | (() => string), probe: () => T | Promise<T>, timeoutMs = 10_000, intervalMs = 25): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${typeof what === 'string' ? what : what()}`);
    await delay(intervalMs);
  }
}

export async function waitForStatus(handle: WorkflowHandle<unknown>, status: RunStatus, timeoutMs = 10_000): Promise<void> {
  let last: RunStatus | undefined;
  await waitFor(
    () => `run ${handle.runId} to be ${status} (last seen ${String(last)})`,
    async () => (last = await handle.status()) === status,
    timeoutMs,
  );
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export interface Deferred<T = void> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(err: unknown): void;
  settled: boolean;
}

export function deferred<T = void>(): Deferred<T> {
  const d = { settled: false } as Deferred<T>;
  d.promise = new Promise<T>((resolve, reject) => {
    d.resolve = (v) => {
      d.settled = true;
      resolve(v);
    };
    d.reject = (e) => {
      d.settled = true;
      reject(e);
    };
  });
  return d;
}

/** Counts side effects, e.g. `calls.bump('Payments.charge', orderId)`; keys are per call site and subject. */
export class CallCounter {
  private readonly counts = new Map<string, number>();

  bump(step: string, subject = ''): number {
    const key = `${step}|${subject}`;
    const n = (this.counts.get(key) ?? 0) + 1;
    this.counts.set(key, n);
    return n;
  }

  get(step: string, subject = ''): number {
    return this.counts.get(`${step}|${subject}`) ?? 0;
  }
}

/** Rows of one run's steps straight from the table (not through the client). */
export function stepRows(url: string, runId: string): Promise<Array<{ step_key: string; step_name: string; status: string; kind: string }>> {
  return sql(url, 'select step_key, step_name, status, kind from kagzi.step_runs where workflow_run_id = $1 order by id', [runId]);
}

/** The error `promise` rejects with; fails the test if it resolves. */
export async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err: unknown) {
    return err;
  }
  throw new Error('expected the promise to reject, but it resolved');
}
