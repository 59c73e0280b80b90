import { ScheduleInfo } from '../interfaces/run.interface';
import { KagziDatabase } from './kagzi-database';

/** Cron schedules of workflows: registration at boot, ticks by workers, listing. */
export class ScheduleStore {
  constructor(private readonly db: KagziDatabase) {}

  list(): Promise<ScheduleInfo[]> {
    void this.db;
    return Promise.resolve([]);
  }
}
