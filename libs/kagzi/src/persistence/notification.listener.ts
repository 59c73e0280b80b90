import { Logger } from '@nestjs/common';
import { EventEmitter } from 'node:events';
import { Client } from 'pg';
import { LISTEN_RECONNECT_DELAY_MS } from '../common/limits';
import { RunStatus, TERMINAL_STATUSES } from '../interfaces/run.interface';
import { KagziDatabase } from './kagzi-database';
import { RunOutcomeRow } from './run.rows';
import { notificationChannel } from './schema-identifiers';

/** What a `finished` notification says about a run: always its final status, the outcome when it fit. */
export interface FinishedNotice {
  /** COMPLETED, FAILED or CANCELLED. */
  status: RunStatus;
  /** Output and error as stored; absent when they were too large for a notification (read the run instead). */
  outcome?: RunOutcomeRow;
}

/**
 * One LISTEN connection per process. `wakeup` (payload: workflow name) wakes idle workers when a run
 * becomes due; `finished` (payload: run id and status, see notify-finished.sql.ts) wakes result waiters
 * and tells a worker its run ended elsewhere; `cancel` (payload: run id) tells a worker to deliver a
 * cancel to a run it holds; `event` (payload: run id and key) wakes `getEvent` waiters.
 * Notifications are a latency optimisation only: every waiter also polls, so a dropped connection
 * delays work but never loses it. The connection is the database's direct session (`database.listenUrl`,
 * else the pool's settings): a LISTEN through a pooler in transaction mode would hear nothing.
 */
export class NotificationListener {
  private readonly logger = new Logger('Kagzi');
  private readonly events = new EventEmitter();
  private client?: Client;
  /** Counts the LISTEN sessions opened; see `session`. */
  private sessions = 0;
  private stopped = false;
  private reconnectTimer?: NodeJS.Timeout;

  constructor(private readonly db: KagziDatabase) {
    this.events.setMaxListeners(0);
  }

  async start(): Promise<void> {
    this.stopped = false;
    await this.connect();
  }

  /**
   * The current LISTEN session (a number that changes on every reconnect), or undefined while there is
   * none. Two equal readings mean the connection stayed up in between, so no notification was missed.
   */
  get session(): number | undefined {
    return this.client ? this.sessions : undefined;
  }

  /** Runs of `workflowName` may be due; an empty name after the LISTEN session came back (anything may be due). */
  onWakeup(listener: (workflowName: string) => void): () => void {
    this.events.on('wakeup', listener);
    return () => this.events.off('wakeup', listener);
  }

  /** A run finished (completed, failed or cancelled); `notice.status` says which. */
  onAnyFinished(listener: (runId: string, notice: FinishedNotice) => void): () => void {
    this.events.on('finished', listener);
    return () => this.events.off('finished', listener);
  }

  /** A cancel was requested for a RUNNING run (see cancel-run.sql.ts); its worker delivers it. */
  onCancel(listener: (runId: string) => void): () => void {
    this.events.on('cancel', listener);
    return () => this.events.off('cancel', listener);
  }

  /** A run set the event `key` (see set-event.sql.ts). */
  onEvent(listener: (runId: string, key: string) => void): () => void {
    this.events.on('event', listener);
    return () => this.events.off('event', listener);
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
    const wakeup = notificationChannel(this.db.schema, 'wakeup');
    const finishedChannel = notificationChannel(this.db.schema, 'finished');
    const eventChannel = notificationChannel(this.db.schema, 'event');
    const cancelChannel = notificationChannel(this.db.schema, 'cancel');
    const client = new Client(this.db.session);
    client.on('notification', (msg) => {
      const payload = msg.payload ?? '';
      if (msg.channel === wakeup) {
        this.events.emit('wakeup', payload);
        return;
      }
      if (msg.channel === cancelChannel) {
        this.events.emit('cancel', payload);
        return;
      }
      if (msg.channel === eventChannel) {
        const event = parseEvent(payload);
        if (event) this.events.emit('event', event.id, event.key);
        return;
      }
      const finished = msg.channel === finishedChannel ? parseFinished(payload) : undefined;
      if (finished) this.events.emit('finished', finished.id, finished.notice);
    });
    client.on('error', (err: unknown) => this.scheduleReconnect(client, err));
    client.on('end', () => this.scheduleReconnect(client, new Error('connection ended')));
    try {
      await client.connect();
      await client.query(`listen "${wakeup}"; listen "${finishedChannel}"; listen "${eventChannel}"; listen "${cancelChannel}"`);
    } catch (err: unknown) {
      await client.end().catch(() => undefined); // a session that is not listening is not kept open
      throw err;
    }
    this.sessions++;
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
    }, LISTEN_RECONNECT_DELAY_MS);
  }
}

/** A payload without a final status is not ours to act on (a cancel must never be guessed). */
function parseFinished(payload: string): { id: string; notice: FinishedNotice } | undefined {
  try {
    const data = JSON.parse(payload) as Partial<RunOutcomeRow> & { id?: unknown };
    if (typeof data.id !== 'string' || !isTerminal(data.status)) return undefined;
    // The statement leaves output and error out (keys absent, not null) when they did not fit.
    if (!('output' in data) && !('error' in data)) return { id: data.id, notice: { status: data.status } };
    return { id: data.id, notice: { status: data.status, outcome: { status: data.status, output: data.output ?? null, error: data.error ?? null } } };
  } catch {
    return undefined;
  }
}

function parseEvent(payload: string): { id: string; key: string } | undefined {
  try {
    const data = JSON.parse(payload) as { id?: unknown; key?: unknown };
    return typeof data.id === 'string' && typeof data.key === 'string' ? { id: data.id, key: data.key } : undefined;
  } catch {
    return undefined;
  }
}

function isTerminal(status: unknown): status is RunStatus {
  return TERMINAL_STATUSES.some((s) => s === status);
}
