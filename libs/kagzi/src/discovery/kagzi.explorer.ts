import { Injectable, Logger, OnModuleInit, Type } from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import { toMilliseconds } from '../common/duration';
import { nameProblem } from '../common/names';
import { InvalidOptionsError } from '../errors/invalid-options.error';
import { runScopeStorage } from '../execution/run-scope.storage';
import { StepDefinition } from '../execution/step-definition';
import type { StepOptions } from '../decorators/step.decorator';
import type { IsolationLevel } from '../persistence/step-transactions';
import { WorkflowDefinition } from '../interfaces/workflow.interface';
import { parseSchedule } from '../schedules/cron';
import { WorkflowMetadataAccessor } from './workflow-metadata.accessor';
import { WorkflowRegistry } from './workflow.registry';

const STEP_WRAPPER = Symbol('kagzi.stepWrapper');

type Method = ((...args: unknown[]) => unknown) & { [STEP_WRAPPER]?: true };

/**
 * Walks every provider once at init: registers `@Workflow` classes and wraps `@Step` methods.
 * The wrapper sits on the prototype, so every instance (and every Nest app in the process) shares it;
 * the async-local run scope decides whether a call is durable.
 */
@Injectable()
export class KagziExplorer implements OnModuleInit {
  private readonly logger = new Logger('Kagzi');

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly accessor: WorkflowMetadataAccessor,
    private readonly registry: WorkflowRegistry,
  ) {}

  onModuleInit(): void {
    for (const wrapper of this.discovery.getProviders()) {
      const metatype = wrapper.metatype as Type<unknown> | undefined;
      if (!metatype || typeof metatype !== 'function' || !metatype.prototype) continue;
      this.wrapSteps(metatype);
      const options = this.accessor.getWorkflowOptions(metatype);
      if (!options) continue;
      const instance = wrapper.instance as WorkflowDefinition | undefined;
      if (!wrapper.isDependencyTreeStatic() || !instance) {
        throw new InvalidOptionsError(`@Workflow class ${metatype.name} must be a singleton provider (no request or transient scope).`);
      }
      this.registerWorkflow(metatype, options.name, options.version, instance, options.schedule);
    }
  }

  private registerWorkflow(metatype: Type<unknown>, name = metatype.name, version = 1, instance: WorkflowDefinition, scheduleOption?: unknown): void {
    const problem = nameProblem(name);
    if (problem) throw new InvalidOptionsError(`@Workflow on ${metatype.name}: name ${problem}`);
    if (!Number.isInteger(version) || version < 1 || version > 2 ** 31 - 1) {
      throw new InvalidOptionsError(`@Workflow on ${metatype.name}: version must be an integer from 1 to 2147483647; got ${String(version)}`);
    }
    if (typeof instance.run !== 'function') {
      throw new InvalidOptionsError(`@Workflow class ${metatype.name} has no run(input, ctx) method`);
    }
    const schedule = scheduleOption === undefined ? undefined : parseSchedule(scheduleOption, `@Workflow "${name}" v${version} (${metatype.name})`);
    this.registry.register({ name, version, instance, metatype, schedule });
    const every = schedule ? `, schedule "${schedule.cron}" ${schedule.timezone}` : '';
    this.logger.log(`Registered workflow ${name} v${version} (${metatype.name}${every})`);
  }

  private wrapSteps(metatype: Type<unknown>): void {
    const prototype = metatype.prototype as Record<string, Method>;
    for (const methodName of this.scanner.getAllMethodNames(prototype)) {
      const original = prototype[methodName];
      if (typeof original !== 'function' || original[STEP_WRAPPER]) continue;
      const options = this.accessor.getStepOptions(original);
      if (!options) continue;
      const stepName = options.name ?? `${metatype.name}.${methodName}`;
      const problem = nameProblem(stepName);
      if (problem) throw new InvalidOptionsError(`@Step on ${metatype.name}.${methodName}: name ${problem}`);
      const def: StepDefinition = {
        name: stepName,
        retry: options.retry,
        timeoutMs: options.timeout === undefined ? undefined : toMilliseconds(options.timeout, `@Step timeout on ${metatype.name}.${methodName}`),
        transactional: transactionalOf(options, `${metatype.name}.${methodName}`),
      };
      const stepCall: Method = function (this: unknown, ...args: unknown[]): unknown {
        const scope = runScopeStorage.getStore();
        if (!scope || scope.inStep) return original.apply(this, args);
        return scope.execution.runStep(scope, def, () => original.apply(this, args), args);
      };
      for (const key of Reflect.getMetadataKeys(original)) {
        Reflect.defineMetadata(key, Reflect.getMetadata(key, original), stepCall);
      }
      Object.defineProperty(stepCall, 'name', { value: original.name });
      stepCall[STEP_WRAPPER] = true;
      prototype[methodName] = stepCall;
    }
  }
}

const ISOLATION_LEVELS: readonly IsolationLevel[] = ['READ COMMITTED', 'REPEATABLE READ', 'SERIALIZABLE'];

/** `@Step({ transactional, isolation })`, checked: isolation only with transactional, and one of PostgreSQL's levels. */
function transactionalOf(options: StepOptions, where: string): StepDefinition['transactional'] {
  if (options.transactional !== undefined && typeof options.transactional !== 'boolean') throw new InvalidOptionsError(`@Step on ${where}: transactional must be true or false`);
  if (options.isolation !== undefined && !options.transactional) throw new InvalidOptionsError(`@Step on ${where}: isolation needs transactional: true`);
  if (options.isolation !== undefined && !ISOLATION_LEVELS.includes(options.isolation)) {
    throw new InvalidOptionsError(`@Step on ${where}: isolation must be one of ${ISOLATION_LEVELS.join(', ')}; got ${JSON.stringify(options.isolation)}`);
  }
  return options.transactional ? { isolation: options.isolation ?? 'READ COMMITTED' } : undefined;
}
