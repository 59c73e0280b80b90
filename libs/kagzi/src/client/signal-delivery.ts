import { randomUUID } from 'node:crypto';
import { toMilliseconds } from '../common/duration';
import { describeIssues } from '../common/resolve-options';
import { nameProblem } from '../common/names';
import { InvalidOptionsError } from '../errors/invalid-options.error';
import { RunNotActiveError } from '../errors/run-not-active.error';
import { RunNotFoundError } from '../errors/run-not-found.error';
import { PayloadSerializer } from '../execution/payload.serializer';
import { StartOptions } from '../interfaces/run.interface';
import { ConnectionRetry } from '../persistence/connection-retry';
import { SendResult, SignalStore } from '../persistence/signal.store';
import { startTrace } from '../tracing/start.trace';
import { startOptionsSchema } from './client-input';
import { versionError } from './version-errors';
import { recordRunStarted } from '../metrics/run.metrics';

/** The client's signal calls: checked input, one durable send (retried through outages without duplicates), typed refusals. */
export class SignalDelivery {
  constructor(
    private readonly signals: SignalStore,
    private readonly serializer: PayloadSerializer,
    private readonly retry: ConnectionRetry,
  ) {}

  async send(runId: string, name: string, payload: unknown): Promise<void> {
    const signal = this.prepare(name, payload);
    const result = await this.retry.run(`signal(${runId}, '${name}')`, () => this.signals.send({ runId, ...signal }));
    assertDelivered(result, runId, name);
  }

  /** Starts a run of `workflow` unless the key is taken, then signals it, in one transaction; returns its id. */
  async startAndSend(workflow: string, input: unknown, signal: { name: string; payload?: unknown }, options: StartOptions & { idempotencyKey: string }): Promise<string> {
    const parsed = startOptionsSchema.safeParse(options);
    if (!parsed.success) throw new InvalidOptionsError(`Invalid signalWithStart options: ${describeIssues(parsed.error, 'options')}`);
    if (options.manager !== undefined) throw new InvalidOptionsError('Invalid signalWithStart options: options.manager is not supported (only start() joins a caller\'s transaction)');
    if (options.idempotencyKey === undefined) throw new InvalidOptionsError('Invalid signalWithStart options: options.idempotencyKey: required (it names the run to start or signal)');
    const delayMs = options.delay === undefined ? 0 : toMilliseconds(options.delay, 'signalWithStart options.delay');
    const { text } = this.serializer.encode(input, `input of workflow "${workflow}"`);
    const prepared = this.prepare(signal.name, signal.payload);
    // Ids chosen before the first attempt: a retry after a lost reply finds the run by its key and stores the signal once.
    const id = randomUUID();
    // A `kagzi.start` span as for start(): its context is stored with the run if this call inserts it.
    const traced = startTrace(workflow, id, options.version);
    const run = { id, name: workflow, version: options.version, input: text, idempotencyKey: options.idempotencyKey, delayMs, traceContext: traced.carrier };
    const done = await traced.around(async () => {
      const result = await this.retry.run(`signalWithStart() of workflow "${workflow}"`, () => this.signals.startAndSend(run, prepared));
      traced.version(result.start.version);
      return result;
    });
    if (!done.runId || !done.send) throw versionError(workflow, options.version, done.start);
    if (done.runId === id) recordRunStarted(workflow, done.start.version);
    assertDelivered(done.send, done.runId, signal.name);
    return done.runId;
  }

  /** Checked name, payload as stored (undefined is stored as null), and a delivery id for retries. */
  private prepare(name: string, payload: unknown): { name: string; payload: string; deliveryId: string } {
    const problem = nameProblem(name);
    if (problem) throw new InvalidOptionsError(`The signal name ${problem}`);
    // `$…` names are the engine's own (a child's end reaches its parent as `$child:<id>`): a sent one could forge it.
    if (name.startsWith('$')) throw new InvalidOptionsError(`The signal name "${name}" starts with "$", which is reserved for Kagzi's own signals; choose another name`);
    return { name, payload: this.serializer.encode(payload === undefined ? null : payload, `payload of signal "${name}"`).text, deliveryId: randomUUID() };
  }
}

/** Throws the typed error for a signal that was not stored. */
function assertDelivered(result: SendResult, runId: string, name: string): void {
  if (result.delivered) return;
  if (!result.known) throw new RunNotFoundError(`No workflow run has id ${runId}`);
  throw new RunNotActiveError(`Run ${runId} has ended, so signal "${name}" cannot be delivered; start a new run to act on it`);
}
