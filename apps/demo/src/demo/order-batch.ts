import { WorkflowClient, WorkflowFailedError } from '@kagzi/nestjs';
import { performance } from 'node:perf_hooks';
import { OrderInput, OrderResult } from '../orders/order.types';
import { OrdersService } from '../orders/orders.service';
import { PAYMENT_CONFIRMED } from '../orders/order-v3.workflow';

export interface OrderOutcome {
  orderId: string;
  runId?: string;
  status: 'COMPLETED' | 'FAILED' | 'ERROR';
  /** From `start()` to the settled result, as the caller sees it (includes the 300 ms warehouse wait). */
  latencyMs: number;
  shipmentId?: string;
  detail?: string;
  /** False for anything the demo did not plan for: the demo then exits 1. */
  expected: boolean;
}

export interface BatchOptions {
  /** Every result is awaited until this moment (performance.now() clock) at the latest. */
  deadline: number;
  /** A failed run that is part of the scenario (e.g. the simulated payment outage). */
  isExpectedFailure(error: WorkflowFailedError): boolean;
  onSettled(outcome: OrderOutcome): void;
  /** Whether the customer pays this order (sends the payment-confirmed signal). */
  pays(order: OrderInput): boolean;
}

/**
 * Places every order at once (the order row and its run in one transaction, idempotency key = order id)
 * and awaits each run's result.
 */
export function runOrderBatch(orders: OrdersService, client: WorkflowClient, batch: readonly OrderInput[], options: BatchOptions): Promise<OrderOutcome[]> {
  return Promise.all(
    batch.map(async (order) => {
      const outcome = await runOrder(orders, client, order, options);
      options.onSettled(outcome);
      return outcome;
    }),
  );
}

async function runOrder(orders: OrdersService, client: WorkflowClient, order: OrderInput, options: BatchOptions): Promise<OrderOutcome> {
  const started = performance.now();
  const base = { orderId: order.orderId };
  let runId: string | undefined;
  try {
    runId = (await orders.place(order, order.orderId)).runId;
    const handle = client.getHandle<OrderResult>(runId);
    // The customer pays (the payment provider's webhook would send this); unpaid orders are cancelled after the window.
    if (options.pays(order)) await client.signal(runId, PAYMENT_CONFIRMED, { method: 'card' });
    const result = await handle.result({ timeout: Math.max(1, Math.round(options.deadline - performance.now())) });
    return { ...base, runId, status: 'COMPLETED', latencyMs: performance.now() - started, shipmentId: result.shipmentId, expected: true };
  } catch (err: unknown) {
    const latencyMs = performance.now() - started;
    if (err instanceof WorkflowFailedError) {
      const detail = `${err.error.code ?? err.error.kind}: ${err.error.message}`;
      return { ...base, runId, status: 'FAILED', latencyMs, detail, expected: options.isExpectedFailure(err) };
    }
    const detail = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    return { ...base, runId, status: 'ERROR', latencyMs, detail, expected: false };
  }
}
