import { StoredPayload } from '../execution/payload.serializer';
import { RunStatus } from '../interfaces/run.interface';
import { KagziDatabase } from './kagzi-database';
import { getEvent } from './sql/get-event.sql';
import { setEvent } from './sql/set-event.sql';
import { Lease, StepPlacement } from './store.types';

/** What a set decided: refused (lease lost), written now, or recorded before (nothing written). */
export type EventSetOutcome = 'lost' | 'written' | 'recorded-before';

/** What a read found: nothing (unknown run), or the run's status and the key's value if it was set. */
export type EventRead = { known: false } | { known: true; status: RunStatus; set: boolean; value: StoredPayload | null };

/** Events: values a run sets by key and clients read (see the sql files for the locking). */
export class EventStore {
  constructor(private readonly db: KagziDatabase) {}

  async set(lease: Lease, event: { stepKey: string; key: string; value: string } & StepPlacement): Promise<EventSetOutcome> {
    const [row] = await this.db.run<{ held: boolean; written: boolean }>(setEvent.with({ ...lease, ...event }));
    if (row.written) return 'written';
    return row.held ? 'recorded-before' : 'lost';
  }

  async get(runId: string, key: string): Promise<EventRead> {
    const [row] = await this.db.run<{ status: RunStatus; value: StoredPayload | null; found: boolean }>(getEvent.with({ runId, key }));
    return row ? { known: true, status: row.status, set: row.found, value: row.value } : { known: false };
  }
}
