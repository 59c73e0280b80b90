import { Injectable, Type } from '@nestjs/common';
import { InvalidOptionsError } from '../errors/invalid-options.error';
import { WorkflowDefinition } from '../interfaces/workflow.interface';
import type { CronSchedule } from '../schedules/cron';

export interface RegisteredWorkflow {
  name: string;
  version: number;
  instance: WorkflowDefinition;
  metatype: Type<unknown>;
  /** `@Workflow({ schedule })`, checked. */
  schedule?: CronSchedule;
}

/** The (name, version) pairs this process can execute, filled by the explorer at bootstrap. */
@Injectable()
export class WorkflowRegistry {
  private readonly byName = new Map<string, Map<number, RegisteredWorkflow>>();

  register(entry: RegisteredWorkflow): void {
    const versions = this.byName.get(entry.name) ?? new Map<number, RegisteredWorkflow>();
    const existing = versions.get(entry.version);
    if (existing && existing.metatype !== entry.metatype) {
      throw new InvalidOptionsError(
        `Workflow "${entry.name}" version ${entry.version} is declared twice (${existing.metatype.name} and ${entry.metatype.name}); give one of them another version.`,
      );
    }
    versions.set(entry.version, entry);
    this.byName.set(entry.name, versions);
  }

  get(name: string, version: number): RegisteredWorkflow | undefined {
    return this.byName.get(name)?.get(version);
  }

  all(): RegisteredWorkflow[] {
    return [...this.byName.values()].flatMap((versions) => [...versions.values()]);
  }
}
