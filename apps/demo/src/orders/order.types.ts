export interface OrderItem {
  sku: string;
  qty: number;
  /** Unit price in the shop's currency, e.g. 19.99. */
  price: number;
}

export interface OrderInput {
  orderId: string;
  customerId: string;
  items: OrderItem[];
}

export interface Reservation {
  reservationId: string;
  orderId: string;
  skus: string[];
}

export interface Payment {
  paymentId: string;
  orderId: string;
  amountCents: number;
}

export interface Shipment {
  shipmentId: string;
  trackingNumber: string;
  carrier: string;
  /** What the carrier prints on the label: customer and order. */
  reference: string;
}

export interface OrderResult {
  orderId: string;
  reservationId: string;
  paymentId: string;
  shipmentId: string;
  trackingNumber: string;
  amountCents: number;
}

/** Integer cents, so the charged amount is exact and identical on every replay. */
export function orderTotalCents(items: readonly OrderItem[]): number {
  return items.reduce((sum, item) => sum + item.qty * Math.round(item.price * 100), 0);
}
