import { Injectable, Type } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { WorkflowOptions } from '../decorators/workflow.decorator';
import { StepOptions } from '../decorators/step.decorator';
import { STEP_METADATA, WORKFLOW_METADATA } from '../kagzi.constants';

/** The only code that reads Kagzi's decorator metadata. */
@Injectable()
export class WorkflowMetadataAccessor {
  constructor(private readonly reflector: Reflector) {}

  getWorkflowOptions(target: Type<unknown> | Function): WorkflowOptions | undefined {
    return this.reflector.get<WorkflowOptions | undefined>(WORKFLOW_METADATA, target);
  }

  getStepOptions(method: Function): StepOptions | undefined {
    return this.reflector.get<StepOptions | undefined>(STEP_METADATA, method);
  }
}
