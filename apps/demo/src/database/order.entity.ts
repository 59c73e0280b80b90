import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';
import { OrderItem } from '../orders/order.types';

/** An accepted order. Inserted in the same transaction as its fulfilment run (OrdersService.place). */
@Entity({ schema: 'demo', name: 'orders' })
export class Order {
  @PrimaryColumn('text')
  id!: string;

  @Column('text', { name: 'customer_id' })
  customerId!: string;

  @Column('jsonb')
  items!: OrderItem[];

  @Column('integer', { name: 'amount_cents' })
  amountCents!: number;

  /** The client's Idempotency-Key: a retried POST finds this order instead of placing a second one. */
  @Column('text', { name: 'idempotency_key', nullable: true, unique: true })
  idempotencyKey!: string | null;

  /** The order-fulfilment run: it exists if and only if this row does. */
  @Column('uuid', { name: 'run_id' })
  runId!: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}
