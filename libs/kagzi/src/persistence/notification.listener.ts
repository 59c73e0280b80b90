import { Logger } from '@nestjs/common';
import { EventEmitter } from 'node:events';
import { Client } from 'pg';
import { KagziDatabase } from './kagzi-database';
import { RunOutcomeRow } from './run.rows';

/**
 * One LISTEN connection per process. `wakeup` (payload: workflow name) wakes idle workers when a run
 * becomes due; `finished` (payload: run id) wakes result waiters and tells a worker its run was cancelled.
 * Notifications are a latency optimisation only: every waiter also polls, so a dropped connection
 * delays work but never loses it.
 */
export class NotificationListener {
  private readonly logger = new Logger('Kagzi');
  private readonly events = new EventEmitter();
  private client?: Client;
  private stopped = false;
  private reconnectTimer?: NodeJS.Timeout;

  constructor(private readonly db: KagziDatabase) {
    this.events.setMaxListeners(0);
  }

  async start(): Promise<void> {
    this.stopped = false;
    await this.connect();
  }

  onWakeup(listener: (workflowName: string) => void): () => void {
    this.events.on('wakeup', listener);
    return () => this.events.off('wakeup', listener);
  }

  /** A run finished (completed, failed or cancelled); `outcome` is absent when it did not fit the payload. */
  onAnyFinished(listener: (runId: string, outcome?: RunOutcomeRow) => void): () => void {
    this.events.on('finished', listener);
    return () => this.events.off('finished', listener);
  }

  onApplicationShutdown(): Promise<void> {
    return this.stop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    const client = new Client({ connectionString: this.db.url });
    client.on('notification', (msg) => {
      const payload = msg.payload ?? '';
      if (msg.channel.endsWith('.wakeup')) {
        this.events.emit('wakeup', payload);
        return;
      }
      const finished = parseFinished(payload);
      if (finished) this.events.emit('finished', finished.id, finished.outcome);
    });
    client.on('error', (err: unknown) => this.scheduleReconnect(client, err));
    client.on('end', () => this.scheduleReconnect(client, new Error('connection ended')));
    await client.connect();
    const s = this.db.schema;
    await client.query(`listen "${s}.wakeup"; listen "${s}.finished"`);
    this.client = client;
  }

  private scheduleReconnect(client: Client, err: unknown): void {
    if (this.stopped || this.client !== client) return;
    this.client = undefined;
    this.logger.warn(`LISTEN connection lost (${err instanceof Error ? err.message : String(err)}); reconnecting, polling meanwhile`);
    client.end().catch(() => undefined);
    this.reconnectTimer = setTimeout(() => {
      this.connect()
        .then(() => this.events.emit('wakeup', ''))
        .catch((e: unknown) => {
          this.client = client; // let the next failure schedule another attempt
          this.scheduleReconnect(client, e);
        });
    }, 1000);
  }
}

function parseFinished(payload: string): { id: string; outcome?: RunOutcomeRow } | undefined {
  try {
    const data = JSON.parse(payload) as Partial<RunOutcomeRow> & { id?: unknown };
    if (typeof data.id !== 'string') return undefined;
    if (!data.status) return { id: data.id };
    return { id: data.id, outcome: { status: data.status, output: data.output ?? null, error: data.error ?? null } };
  } catch {
    return undefined;
  }
}
