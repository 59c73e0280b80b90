import { DynamicModule, Logger, Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import { RunOutcomeWaiter } from './client/run-outcome.waiter';
import { WorkflowClient } from './client/workflow.client';
import { CLIENT_POLL_INTERVAL_MS } from './common/limits';
import { ResolvedKagziOptions, resolveKagziOptions } from './common/resolve-options';
import { KagziExplorer } from './discovery/kagzi.explorer';
import { WorkflowMetadataAccessor } from './discovery/workflow-metadata.accessor';
import { WorkflowRegistry } from './discovery/workflow.registry';
import { PayloadSerializer } from './execution/payload.serializer';
import { WorkflowRunner } from './execution/workflow.runner';
import { KagziHealthIndicator } from './health/kagzi.health';
import { KagziModuleOptions } from './interfaces/kagzi-options.interface';
import { KAGZI_RESOLVED_OPTIONS } from './kagzi.constants';
import { ConfigurableModuleClass, MODULE_OPTIONS_TOKEN, OPTIONS_TYPE } from './kagzi.module-definition';
import { KagziDatabase } from './persistence/kagzi-database';
import { connectWithRetry } from './persistence/connection-retry';
import { NotificationListener } from './persistence/notification.listener';
import { RunStore } from './persistence/run.store';
import { SignalStore } from './persistence/signal.store';
import { EventStore } from './persistence/event.store';
import { ScheduleStore } from './persistence/schedule.store';
import { StepTransactions } from './persistence/step-transactions';
import { EventReader } from './client/event-reader';
import { VersionStore } from './persistence/version.store';
import { WorkerStore } from './persistence/worker.store';
import { KagziWorker } from './worker/kagzi.worker';
import { ScheduleTicker } from './schedules/schedule-ticker';
import { RunRetention } from './retention/run-retention';
import { BacklogMetrics } from './metrics/backlog.metrics';

/**
 * `KagziModule.forRoot(options)` / `forRootAsync({ useFactory, inject, imports })`. Global by default
 * (`isGlobal: false` to scope it), so `WorkflowClient` can be injected anywhere.
 */
@Module({
  imports: [DiscoveryModule, TerminusModule],
  providers: [
    { provide: KAGZI_RESOLVED_OPTIONS, useFactory: (options?: KagziModuleOptions) => resolveKagziOptions(options ?? {}), inject: [MODULE_OPTIONS_TOKEN] },
    { provide: KagziDatabase, useFactory: (options: ResolvedKagziOptions) => KagziDatabase.open(options), inject: [KAGZI_RESOLVED_OPTIONS] },
    { provide: RunStore, useFactory: (db: KagziDatabase) => new RunStore(db), inject: [KagziDatabase] },
    { provide: WorkerStore, useFactory: (db: KagziDatabase) => new WorkerStore(db), inject: [KagziDatabase] },
    { provide: VersionStore, useFactory: (db: KagziDatabase) => new VersionStore(db), inject: [KagziDatabase] },
    { provide: SignalStore, useFactory: (db: KagziDatabase) => new SignalStore(db), inject: [KagziDatabase] },
    { provide: EventStore, useFactory: (db: KagziDatabase) => new EventStore(db), inject: [KagziDatabase] },
    { provide: ScheduleStore, useFactory: (db: KagziDatabase) => new ScheduleStore(db), inject: [KagziDatabase] },
    {
      provide: NotificationListener,
      useFactory: async (db: KagziDatabase, options: ResolvedKagziOptions) => {
        const listener = new NotificationListener(db);
        // The database answered a moment ago (open() waited for it), but may be restarting right now.
        await connectWithRetry(() => listener.start(), { ...options, logger: new Logger('Kagzi') });
        return listener;
      },
      inject: [KagziDatabase, KAGZI_RESOLVED_OPTIONS],
    },
    // One serializer for the process: the runner stores inputs and outputs with it, the client reads them back.
    { provide: PayloadSerializer, useFactory: (options: ResolvedKagziOptions) => new PayloadSerializer(options.maxPayloadBytes), inject: [KAGZI_RESOLVED_OPTIONS] },
    {
      provide: WorkflowRunner,
      useFactory: (
        registry: WorkflowRegistry, runs: RunStore, signals: SignalStore, client: WorkflowClient, events: EventStore, serializer: PayloadSerializer, options: ResolvedKagziOptions,
        transactions: StepTransactions,
      ) => new WorkflowRunner(registry, runs, signals, client, events, serializer, options.defaultRetry, transactions, options.classifyError),
      inject: [WorkflowRegistry, RunStore, SignalStore, WorkflowClient, EventStore, PayloadSerializer, KAGZI_RESOLVED_OPTIONS, StepTransactions],
    },
    {
      provide: StepTransactions,
      useFactory: (db: KagziDatabase, options: ResolvedKagziOptions) => new StepTransactions(db, options),
      inject: [KagziDatabase, KAGZI_RESOLVED_OPTIONS],
    },
    {
      provide: RunOutcomeWaiter,
      useFactory: (runs: RunStore, notifications: NotificationListener, options: ResolvedKagziOptions) =>
        new RunOutcomeWaiter(runs, notifications, options.worker ? options.worker.pollIntervalMs : CLIENT_POLL_INTERVAL_MS),
      inject: [RunStore, NotificationListener, KAGZI_RESOLVED_OPTIONS],
    },
    {
      provide: EventReader,
      useFactory: (events: EventStore, notifications: NotificationListener, serializer: PayloadSerializer, options: ResolvedKagziOptions) =>
        new EventReader(events, notifications, serializer, options),
      inject: [EventStore, NotificationListener, PayloadSerializer, KAGZI_RESOLVED_OPTIONS],
    },
    WorkflowMetadataAccessor,
    WorkflowRegistry,
    KagziExplorer,
    KagziWorker,
    RunRetention,
    BacklogMetrics,
    ScheduleTicker,
    WorkflowClient,
    KagziHealthIndicator,
  ],
  // KagziDatabase is for KagziDashboardModule's reads (not part of the public API).
  exports: [WorkflowClient, KagziHealthIndicator, KagziWorker, KagziDatabase],
})
export class KagziModule extends ConfigurableModuleClass {
  /** Options are optional: with none, Kagzi uses DATABASE_URL or an embedded PostgreSQL. */
  static override forRoot(options: typeof OPTIONS_TYPE = {}): DynamicModule {
    return super.forRoot(options);
  }
}
