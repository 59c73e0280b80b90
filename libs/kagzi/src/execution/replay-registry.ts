import type { RegisteredWorkflow } from '../discovery/workflow.registry';
import type { ClaimedRun } from '../persistence/store.types';
import type { Executed } from './executed';

/** What `replayRun` needs of an app's runner: its workflows, and a replay. */
export interface ReplayRunner {
  registered(name: string, version: number): RegisteredWorkflow | undefined;
  replay(claim: ClaimedRun): Promise<Executed>;
}

/** The runners of the Kagzi apps alive in this process, newest last: `replayRun` uses one that registers the workflow. */
export const replayRunners = new Set<ReplayRunner>();
