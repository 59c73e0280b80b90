/**
 * `@kagzi/nestjs/testing`: helpers for testing workflows, kept out of the main entry point so production
 * code never loads them (they need `@nestjs/testing`).
 */
export { KagziTesting, type KagziTestingOptions } from './kagzi-testing';
export { TestClock, type ClockAdvance } from './test-clock';
export { replayRun, replayHistory, type ReplayReport } from '../execution/run-replay';
export type { RunHistory, HistoryStep, StoredValue } from '../interfaces/run-history.interface';
