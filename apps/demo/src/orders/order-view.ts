import { RunDetails, SerializedStepError } from '@kagzi/nestjs';
import { OrderInput } from './order.types';

export interface ErrorView {
  kind: string;
  message: string;
  code?: string;
  step?: string;
}

export interface OrderView {
  runId: string;
  orderId?: string;
  status: RunDetails['status'];
  createdAt: Date;
  completedAt?: Date;
  steps: Array<{ name: string; status: string; attempts: number; error?: ErrorView }>;
  output?: unknown;
  error?: ErrorView;
}

/** What GET /orders/:id shows: the run's status and steps, without stack traces or raw step keys. */
export function toOrderView(run: RunDetails): OrderView {
  const input = run.input as Partial<OrderInput> | undefined;
  const view: OrderView = {
    runId: run.runId,
    orderId: input?.orderId,
    status: run.status,
    createdAt: run.createdAt,
    completedAt: run.completedAt,
    steps: run.steps.map((step) => ({
      name: step.name,
      status: step.status,
      attempts: step.attempts.length,
      ...(step.error ? { error: toErrorView(step.error) } : {}),
    })),
  };
  if (run.output !== undefined) view.output = run.output;
  if (run.error) view.error = toErrorView(run.error);
  return view;
}

function toErrorView(error: SerializedStepError): ErrorView {
  return { kind: error.kind, message: error.message, code: error.code, step: error.stepName || undefined };
}
