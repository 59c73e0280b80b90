import { Injectable, SetMetadata, applyDecorators } from '@nestjs/common';
import { WORKFLOW_METADATA } from '../kagzi.constants';

export interface WorkflowOptions {
  /** Default: the class name. */
  name?: string;
  /** Default 1. */
  version?: number;
}

/** Marks a provider class as a workflow. The class must implement `run(input, ctx)`. */
export function Workflow(options: WorkflowOptions = {}): ClassDecorator {
  return applyDecorators(Injectable(), SetMetadata(WORKFLOW_METADATA, options));
}
