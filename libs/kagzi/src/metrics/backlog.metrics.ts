import { BeforeApplicationShutdown, Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { RunStore } from '../persistence/run.store';
import { observeBacklog } from './kagzi-meter';

/**
 * Feeds `kagzi.runs.backlog` from this module's database while the app runs: one statement each time
 * a metric reader collects (nothing at all without an OpenTelemetry SDK, whose reader never calls it).
 */
@Injectable()
export class BacklogMetrics implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private stopObserving?: () => void;

  constructor(private readonly runs: RunStore) {}

  onApplicationBootstrap(): void {
    this.stopObserving = observeBacklog(() => this.runs.backlog());
  }

  beforeApplicationShutdown(): void {
    this.stopObserving?.();
    this.stopObserving = undefined;
  }
}
