import { KagziInit1764100000001 } from './1764100000001-kagzi-init';
import { KagziStepAttempts1764100000002 } from './1764100000002-kagzi-step-attempts';
import { KagziParallelGroups1764100000003 } from './1764100000003-kagzi-parallel-groups';
import { KagziVersions1764100000004 } from './1764100000004-kagzi-versions';
import { KagziWorkers1764100000005 } from './1764100000005-kagzi-workers';
import { KagziSharedRules1764100000006 } from './1764100000006-kagzi-shared-rules';
import { KagziSignals1764100000007 } from './1764100000007-kagzi-signals';
import { KagziEvents1764100000008 } from './1764100000008-kagzi-events';
import { KagziChildren1764100000009 } from './1764100000009-kagzi-children';
import { KagziCancelContinue1764100000010 } from './1764100000010-kagzi-cancel-continue';
import { KagziRetries1764100000011 } from './1764100000011-kagzi-retries';
import { KagziSchedules1764100000012 } from './1764100000012-kagzi-schedules';
import { KagziEndedRuns1764100000013 } from './1764100000013-kagzi-ended-runs';
import { KagziTraceContext1764100000014 } from './1764100000014-kagzi-trace-context';
import { KagziClaimPriority1764100000015 } from './1764100000015-kagzi-claim-priority';
import { KagziDefaultVersionPlpgsql1764100000016 } from './1764100000016-kagzi-default-version-plpgsql';
import { KagziDueRuns1764100000017 } from './1764100000017-kagzi-due-runs';
import { KagziRunSteps1764100000018 } from './1764100000018-kagzi-run-steps';

/** Every Kagzi migration, oldest first. Append new ones; never edit one that has shipped. */
export const KAGZI_MIGRATIONS = [
  KagziInit1764100000001,
  KagziStepAttempts1764100000002,
  KagziParallelGroups1764100000003,
  KagziVersions1764100000004,
  KagziWorkers1764100000005,
  KagziSharedRules1764100000006,
  KagziSignals1764100000007,
  KagziEvents1764100000008,
  KagziChildren1764100000009,
  KagziCancelContinue1764100000010,
  KagziRetries1764100000011,
  KagziSchedules1764100000012,
  KagziEndedRuns1764100000013,
  KagziTraceContext1764100000014,
  KagziClaimPriority1764100000015,
  KagziDefaultVersionPlpgsql1764100000016,
  KagziDueRuns1764100000017,
  KagziRunSteps1764100000018,
];
