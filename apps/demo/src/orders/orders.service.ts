import { Injectable } from '@nestjs/common';
import { WorkflowClient } from '@kagzi/nestjs';
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { Order } from '../database/order.entity';
import { OrderInput, OrderResult, orderTotalCents } from './order.types';
import { OrderWorkflow } from './order.workflow';

export interface PlacedOrder {
  orderId: string;
  runId: string;
}

/** Places orders: the order row and its fulfilment run are written in one transaction. */
@Injectable()
export class OrdersService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly workflows: WorkflowClient,
  ) {}

  /**
   * Inserts the order and starts its `order-fulfilment` run in the same transaction (`start(…, { manager })`):
   * if the insert fails, no run exists; if the transaction commits, the worker is woken at that moment. No
   * outbox table. With an idempotency key, a repeated call returns the first call's order and run.
   */
  place(order: Omit<OrderInput, 'orderId'> & { orderId?: string }, idempotencyKey?: string): Promise<PlacedOrder> {
    return this.dataSource.transaction(async (manager) => {
      if (idempotencyKey !== undefined) {
        const existing = await manager.findOneBy(Order, { idempotencyKey });
        if (existing) return { orderId: existing.id, runId: existing.runId };
      }
      const input: OrderInput = { orderId: order.orderId ?? `ord_${randomUUID()}`, customerId: order.customerId, items: order.items };
      // Inside the caller's transaction: invisible to workers until COMMIT, gone on ROLLBACK.
      const handle = await this.workflows.start<OrderInput, OrderResult>(OrderWorkflow, input, { manager, idempotencyKey });
      // A concurrent request with the same key got the same run (start waited for its commit): keep its order row.
      const inserted = await manager
        .createQueryBuilder()
        .insert()
        .into(Order)
        .values({ id: input.orderId, customerId: input.customerId, items: input.items, amountCents: orderTotalCents(input.items), idempotencyKey: idempotencyKey ?? null, runId: handle.runId })
        .orIgnore()
        .returning(['id'])
        .execute();
      if ((inserted.raw as unknown[]).length === 0) {
        const winner = await manager.findOneByOrFail(Order, { idempotencyKey: idempotencyKey ?? '' });
        return { orderId: winner.id, runId: winner.runId };
      }
      return { orderId: input.orderId, runId: handle.runId };
    });
  }
}
