import { BenchConfig } from './config';
import { BenchTarget } from './database';

export interface ScenarioContext {
  target: BenchTarget;
  config: BenchConfig;
}

export type Scenario = (ctx: ScenarioContext) => Promise<void>;
