import { Logger } from '@nestjs/common';
import { hostname } from 'node:os';
import { PG_UNIQUE_VIOLATION } from '../common/limits';
import { workflowPair } from '../common/names';
import { ResolvedWorkerOptions } from '../common/resolve-options';
import { InvalidOptionsError } from '../errors/invalid-options.error';
import { KAGZI_VERSION } from '../kagzi.constants';
import { ServedPairs } from '../persistence/store.types';
import { WorkerStore } from '../persistence/worker.store';

/** Old STOPPED/LOST workers and events are pruned at most this often, by whichever worker's heartbeat comes first. */
const PRUNE_EVERY_MS = 10 * 60_000;

/** Worker names registered by apps in this process (a pid match alone does not make a row stale). */
const LIVE_NAMES_IN_PROCESS = new Set<string>();

/** This worker's row in the registry: registration (with name takeover), status events, pruning. */
export class WorkerRegistration {
  private lastPruneAt = 0;

  constructor(
    readonly id: string,
    private readonly options: ResolvedWorkerOptions,
    private readonly served: ServedPairs,
    private readonly workers: WorkerStore,
    private readonly logger: Logger,
  ) {}

  /** Joins the registry; a live worker with the same name makes the boot fail. */
  async register(retry = true): Promise<void> {
    const options = this.options;
    try {
      await this.workers.registerWorker({
        id: this.id,
        name: options.name,
        hostname: hostname(),
        pid: process.pid,
        concurrency: options.concurrency,
        heartbeatIntervalMs: options.heartbeatIntervalMs,
        workflows: this.served.names.map((n, i) => workflowPair(n, this.served.versions[i])),
        libraryVersion: KAGZI_VERSION,
      });
    } catch (err: unknown) {
      if ((err as { code?: unknown }).code !== PG_UNIQUE_VIOLATION) throw err;
      // A restart on the same host (a supervisor, a Kubernetes pod) finds its predecessor's row still
      // RUNNING: if that process is gone, the name is free now rather than after 3 heartbeats.
      const holder = await this.workers.findLiveWorker(options.name);
      if (!holder) return retry ? this.register(false) : Promise.reject(err);
      const predecessor = holder.pid === process.pid ? !LIVE_NAMES_IN_PROCESS.has(options.name) : !processAlive(holder.pid);
      if (retry && holder.hostname === hostname() && predecessor) {
        await this.workers.markWorkerLost(holder.id, options.name);
        return this.register(false);
      }
      throw new InvalidOptionsError(
        `worker.name "${options.name}" is in use by a live worker (its heartbeat is recent); give each worker a unique name or leave it unset`,
      );
    }
    LIVE_NAMES_IN_PROCESS.add(options.name);
  }

  /** Records DRAINING or STOPPED with an event; a failure is logged, never thrown (shutdown goes on). */
  async recordStatus(status: 'DRAINING' | 'STOPPED', data: Record<string, unknown>): Promise<void> {
    try {
      await this.workers.setWorkerStatus({ id: this.id, name: this.options.name }, status, data);
    } catch (err: unknown) {
      this.logger.warn(`Worker ${this.options.name}: could not record ${status}: ${String(err)}`);
    }
    if (status === 'STOPPED') LIVE_NAMES_IN_PROCESS.delete(this.options.name);
  }

  /** Deletes STOPPED/LOST workers and events older than `retention`, at most every 10 minutes. */
  async pruneIfDue(): Promise<void> {
    if (Date.now() - this.lastPruneAt <= PRUNE_EVERY_MS) return;
    this.lastPruneAt = Date.now();
    await this.workers.pruneWorkers(this.options.retentionMs).catch((err: unknown) => {
      this.logger.warn(`Worker ${this.options.name}: pruning old workers failed: ${String(err)}`);
    });
  }
}

/** The (name, version) pairs a worker serves: every registered workflow, or those `workflows` names (each must exist). */
export function servedPairs(registered: ReadonlyArray<{ name: string; version: number }>, workflows: string[] | undefined): ServedPairs {
  if (workflows) {
    const unknown = workflows.filter((name) => !registered.some((w) => w.name === name));
    if (unknown.length > 0) {
      throw new InvalidOptionsError(`worker.workflows names workflows that no @Workflow class in this app registers: ${unknown.join(', ')}`);
    }
  }
  const served = workflows ? registered.filter((w) => workflows.includes(w.name)) : registered;
  return { names: served.map((w) => w.name), versions: served.map((w) => w.version) };
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err: unknown) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
