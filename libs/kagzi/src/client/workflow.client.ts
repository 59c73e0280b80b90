import { Inject, Injectable, Type } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { toMilliseconds } from '../common/duration';
import { ResolvedKagziOptions, describeIssues } from '../common/resolve-options';
import { WorkflowMetadataAccessor } from '../discovery/workflow-metadata.accessor';
import { WorkflowRegistry } from '../discovery/workflow.registry';
import { ErrorKind } from '../errors/error-kind';
import { InvalidOptionsError } from '../errors/invalid-options.error';
import { RunNotFoundError } from '../errors/run-not-found.error';
import { StepError } from '../errors/step.error';
import { serializeStepError } from '../errors/step-error.serializer';
import { WorkflowNotFoundError } from '../errors/workflow-not-found.error';
import { PayloadSerializer } from '../execution/payload.serializer';
import { KAGZI_RESOLVED_OPTIONS } from '../kagzi.constants';
import { Page, RunDetails, RunFilter, RunStatus, RunSummary, RUN_STATUSES, StartOptions } from '../interfaces/run.interface';
import { WorkflowRef } from '../interfaces/workflow.interface';
import { RunRepository } from '../persistence/run.repository';
import { toRunDetails, toRunSummary, decodeCursor, encodeCursor } from '../persistence/run.mapper';
import { RunOutcomeWaiter } from './run-outcome.waiter';
import { WorkflowHandle } from './workflow.handle';

const startOptionsSchema = z
  .object({
    version: z.number().int().min(1).optional(),
    idempotencyKey: z.string().min(1).max(512).optional(),
    delay: z.union([z.number(), z.string()]).optional(),
  })
  .strict();

const statusSchema = z.enum(RUN_STATUSES as [RunStatus, ...RunStatus[]]);
const listSchema = z
  .object({
    name: z.string().min(1).optional(),
    version: z.number().int().min(1).optional(),
    status: z.union([statusSchema, z.array(statusSchema)]).optional(),
    createdAfter: z.date().optional(),
    createdBefore: z.date().optional(),
    limit: z.number().int().min(1).max(1000).optional(),
    cursor: z.string().min(1).optional(),
  })
  .strict();

/** Starts runs and inspects them. Works in client-only processes (`worker: false`) too. */
@Injectable()
export class WorkflowClient {
  private readonly serializer: PayloadSerializer;

  constructor(
    @Inject(KAGZI_RESOLVED_OPTIONS) options: ResolvedKagziOptions,
    private readonly repository: RunRepository,
    private readonly waiter: RunOutcomeWaiter,
    private readonly registry: WorkflowRegistry,
    private readonly accessor: WorkflowMetadataAccessor,
  ) {
    this.serializer = new PayloadSerializer(options.maxPayloadBytes);
  }

  /**
   * Starts a run and returns its handle. With an `idempotencyKey` already used for this workflow,
   * returns the existing run's handle instead of starting a second run.
   */
  async start<I, O>(workflow: WorkflowRef<I, O>, input: I, options: StartOptions = {}): Promise<WorkflowHandle<O>> {
    const parsed = startOptionsSchema.safeParse(options);
    if (!parsed.success) throw new InvalidOptionsError(`Invalid start options: ${describeIssues(parsed.error, 'options')}`);
    const delayMs = options.delay === undefined ? 0 : toMilliseconds(options.delay, 'start options.delay');
    const name = this.nameOf(workflow);
    const version = await this.resolveVersion(name, options.version);
    const { text } = this.serializer.encode(input, `input of workflow "${name}"`);
    const id = randomUUID();
    const inserted = await this.repository.insertRun({ id, name, version, input: text, idempotencyKey: options.idempotencyKey, delayMs });
    if (inserted) return this.getHandle<O>(id);
    const existing = await this.repository.findRunIdByKey(name, options.idempotencyKey as string);
    if (!existing) throw new RunNotFoundError(`A run with idempotency key "${options.idempotencyKey}" was reported but not found; retry the call`);
    return this.getHandle<O>(existing);
  }

  getHandle<O = unknown>(runId: string): WorkflowHandle<O> {
    this.assertRunId(runId);
    return new WorkflowHandle<O>(runId, {
      repository: this.repository,
      waiter: this.waiter,
      serializer: this.serializer,
      cancel: (id, reason) => this.cancel(id, reason),
    });
  }

  /** The run, its steps and their attempts, for inspection. */
  async getRun(runId: string): Promise<RunDetails> {
    this.assertRunId(runId);
    const found = await this.repository.getRun(runId);
    if (!found) throw new RunNotFoundError(`No workflow run has id ${runId}`);
    return toRunDetails(found.run, found.steps, found.attempts, this.serializer);
  }

  /** Newest first; pass `nextCursor` back as `cursor` for the next page. */
  async listRuns(filter: RunFilter & { limit?: number; cursor?: string } = {}): Promise<Page<RunSummary>> {
    const parsed = listSchema.safeParse(filter);
    if (!parsed.success) throw new InvalidOptionsError(`Invalid listRuns filter: ${describeIssues(parsed.error, 'filter')}`);
    const limit = filter.limit ?? 50;
    const rows = await this.repository.listRuns({
      name: filter.name,
      version: filter.version,
      statuses: filter.status === undefined ? undefined : ([] as RunStatus[]).concat(filter.status),
      createdAfter: filter.createdAfter,
      createdBefore: filter.createdBefore,
      cursor: filter.cursor === undefined ? undefined : decodeCursor(filter.cursor),
      limit: limit + 1,
    });
    const items = rows.slice(0, limit).map(toRunSummary);
    const last = rows.length > limit ? rows[limit - 1] : undefined;
    return last ? { items, nextCursor: encodeCursor(last) } : { items };
  }

  async countWorkflows(filter: { name?: string; version?: number; status?: RunStatus | RunStatus[] } = {}): Promise<number> {
    const parsed = listSchema.pick({ name: true, version: true, status: true }).strict().safeParse(filter);
    if (!parsed.success) throw new InvalidOptionsError(`Invalid countWorkflows filter: ${describeIssues(parsed.error, 'filter')}`);
    return this.repository.countRuns({
      name: filter.name,
      version: filter.version,
      statuses: filter.status === undefined ? undefined : ([] as RunStatus[]).concat(filter.status),
    });
  }

  /**
   * Cancels a run that has not finished: it will not be claimed again, its worker's signal aborts and
   * its later writes are refused. Cancelling a finished run changes nothing.
   */
  async cancel(runId: string, reason?: string): Promise<void> {
    this.assertRunId(runId);
    const error = new StepError(reason ?? 'cancelled', { kind: ErrorKind.Cancelled });
    error.retryable = false;
    const cancelled = await this.repository.cancelRun(runId, serializeStepError(error));
    if (!cancelled && !(await this.repository.getRunOutcome(runId))) throw new RunNotFoundError(`No workflow run has id ${runId}`);
  }

  private nameOf(workflow: WorkflowRef<unknown, unknown>): string {
    if (typeof workflow === 'string') {
      if (workflow.length === 0) throw new InvalidOptionsError('start(): the workflow name is empty');
      return workflow;
    }
    if (typeof workflow === 'function') {
      const options = this.accessor.getWorkflowOptions(workflow as Type<unknown>);
      if (!options) throw new WorkflowNotFoundError(`${workflow.name} is not a @Workflow class; decorate it with @Workflow() or pass a workflow name`);
      return options.name ?? workflow.name;
    }
    throw new InvalidOptionsError(`start(): expected a workflow name or @Workflow class, got ${typeof workflow}`);
  }

  /** An explicit version must exist; without one, the highest registered version is used. */
  private async resolveVersion(name: string, requested?: number): Promise<number> {
    const local = this.registry.versionsOf(name);
    if (requested !== undefined && local.includes(requested)) return requested;
    if (requested === undefined && local.length > 0) return local[0];
    const known = await this.repository.findVersions(name);
    if (known.length === 0) {
      throw new WorkflowNotFoundError(
        `No workflow named "${name}" is registered: no @Workflow class in this process and no worker has recorded it. Check the name, or start a worker that serves it.`,
      );
    }
    if (requested === undefined) return known[0];
    if (known.includes(requested)) return requested;
    throw new WorkflowNotFoundError(`Workflow "${name}" has no version ${requested}; registered versions: ${known.join(', ')}`);
  }

  private assertRunId(runId: string): void {
    if (typeof runId !== 'string' || !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(runId)) {
      throw new RunNotFoundError(`"${String(runId)}" is not a run id (expected a UUID)`);
    }
  }
}
