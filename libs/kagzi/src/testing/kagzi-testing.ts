import { ConsoleLogger, LogLevel, ModuleMetadata, Provider } from '@nestjs/common';
import { Test, TestingModule, TestingModuleBuilder } from '@nestjs/testing';
import { randomBytes } from 'node:crypto';
import { WorkflowClient } from '../client/workflow.client';
import type { WorkflowHandle } from '../client/workflow.handle';
import { Duration, toMilliseconds } from '../common/duration';
import { ResultTimeoutError } from '../errors/result-timeout.error';
import type { RunStatus } from '../interfaces/run.interface';
import { KagziModuleOptions, WorkerOptions } from '../interfaces/kagzi-options.interface';
import { KagziModule } from '../kagzi.module';
import { KagziDatabase } from '../persistence/kagzi-database';
import { ScheduleTicker } from '../schedules/schedule-ticker';
import { KagziWorker } from '../worker/kagzi.worker';
import { TestClock } from './test-clock';

/** `KagziTesting.create(options)`. */
export interface KagziTestingOptions {
  /** Modules the workflows need (other than KagziModule, which the testing app adds). */
  imports?: ModuleMetadata['imports'];
  /** The workflows and the services with their steps, as in the app's module. */
  providers?: Provider[];
  /** KagziModule options over the testing defaults (a fresh schema, a worker polling every 20 ms). */
  options?: Omit<KagziModuleOptions, 'schema'>;
  /** Changes the module before it compiles, e.g. `(b) => b.overrideProvider(Payments).useClass(FakePayments)`. */
  override?: (builder: TestingModuleBuilder) => TestingModuleBuilder;
  /** Nest log levels. Default: errors only. */
  logLevels?: LogLevel[];
}

/** A worker that claims within milliseconds and hands runs back at once when the app closes. */
const TEST_WORKER: WorkerOptions = { pollInterval: '20ms', leaseDuration: '5s', heartbeatInterval: '500ms', shutdownTimeout: '200ms' };

/**
 * A Nest testing app with Kagzi on a fresh schema of its own (`kagzi_test_<random>`), on `DATABASE_URL`
 * (or `KAGZI_DATABASE_URL`) when set, else the embedded PostgreSQL: real PostgreSQL either way. `close()`
 * stops it and drops the schema.
 */
export class KagziTesting {
  private closing?: Promise<void>;

  private constructor(
    /** The compiled and initialised Nest testing module: `kt.app.get(Service)`. */
    readonly app: TestingModule,
    /** The app's WorkflowClient. */
    readonly client: WorkflowClient,
    /** Virtual time for this app: `kt.clock.advance('1h')`. */
    readonly clock: TestClock,
    /** The schema this app's tables live in. */
    readonly schema: string,
  ) {}

  /**
   * Compiles and initialises the app (migrations applied in its fresh schema, the worker polling).
   * Rejects with what the boot threw, e.g. an InvalidOptionsError for bad options or a DatabaseUnavailableError.
   */
  static async create(options: KagziTestingOptions = {}): Promise<KagziTesting> {
    const schema = `kagzi_test_${randomBytes(6).toString('hex')}`;
    const kagzi = options.options ?? {};
    const worker = kagzi.worker === false ? false : { ...TEST_WORKER, ...kagzi.worker };
    let builder = Test.createTestingModule({
      imports: [KagziModule.forRoot({ ...kagzi, schema, worker }), ...(options.imports ?? [])],
      providers: options.providers ?? [],
    }).setLogger(new ConsoleLogger({ logLevels: options.logLevels ?? ['error', 'fatal'] }));
    if (options.override) builder = options.override(builder);
    const app = await builder.compile();
    try {
      await app.init();
    } catch (err: unknown) {
      await app.close().catch(() => undefined);
      throw err;
    }
    return new KagziTesting(app, app.get(WorkflowClient), new TestClock(app.get(KagziDatabase), app.get(KagziWorker), app.get(ScheduleTicker)), schema);
  }

  /**
   * Resolves once the run has `status` (read every 10 ms), e.g. `SLEEPING` before skipping its sleep;
   * rejects with a ResultTimeoutError naming the status it was stuck at after `timeout` (default 10 s).
   */
  async waitForStatus(run: WorkflowHandle<unknown> | string, status: RunStatus, timeout: Duration = '10s'): Promise<void> {
    const handle = typeof run === 'string' ? this.client.getHandle(run) : run;
    const until = Date.now() + toMilliseconds(timeout, 'kt.waitForStatus() timeout');
    for (;;) {
      const now = await handle.status();
      if (now === status) return;
      if (Date.now() > until) throw new ResultTimeoutError(`Run ${handle.runId} is ${now}, not ${status}, after ${String(timeout)}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /** Stops the app (its worker hands back what it holds) and drops the schema it created. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const db = this.app.get(KagziDatabase);
      await this.app.get(KagziWorker).beforeApplicationShutdown();
      // Dropped while the pool is open (an embedded server stops with the app).
      await db.pool.query(`drop schema if exists "${this.schema}" cascade`).catch(() => undefined);
      this.clock.reset();
      await this.app.close();
    })();
    return this.closing;
  }
}
