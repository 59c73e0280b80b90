import { Column, Entity, PrimaryColumn } from 'typeorm';

/** Units on hand per SKU; a reservation takes units away, its release gives them back. */
@Entity({ schema: 'demo', name: 'stock' })
export class StockLevel {
  @PrimaryColumn('text')
  sku!: string;

  @Column('integer')
  available!: number;
}

/** Units held for an order, written by the transactional step `InventoryService.reserve`. */
@Entity({ schema: 'demo', name: 'reservations' })
export class StockReservation {
  @PrimaryColumn('text', { name: 'reservation_id' })
  reservationId!: string;

  @Column('text', { name: 'order_id', unique: true })
  orderId!: string;

  @Column('jsonb')
  items!: Array<{ sku: string; qty: number }>;
}
