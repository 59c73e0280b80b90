import { createHash, randomBytes } from 'node:crypto';
import { OrderInput, OrderItem } from '../orders/order.types';

const CATALOG: ReadonlyArray<Omit<OrderItem, 'qty'>> = [
  { sku: 'MUG-01', price: 12.5 },
  { sku: 'TEE-M-BLK', price: 19.99 },
  { sku: 'HOODIE-L', price: 49 },
  { sku: 'CAP-02', price: 15 },
  { sku: 'STICKER-PACK', price: 4.25 },
  { sku: 'NOTEBOOK-A5', price: 8.9 },
  { sku: 'BOTTLE-750', price: 24 },
];

/**
 * `count` plausible orders. Order ids carry a per-batch tag, so every run of the demo starts new runs even
 * when the database still holds the previous batch; the baskets themselves come from `seed` and repeat.
 */
export function sampleOrders(count: number, seed: string): OrderInput[] {
  const random = seededRandom(seed);
  const batch = `${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
  return Array.from({ length: count }, (_, i) => {
    const lines = 1 + Math.floor(random() * 3);
    const picked = new Set<number>();
    while (picked.size < lines) picked.add(Math.floor(random() * CATALOG.length));
    return {
      orderId: `ord_${batch}_${String(i + 1).padStart(4, '0')}`,
      customerId: `cus_${1 + Math.floor(random() * 20)}`,
      items: [...picked].map((p) => ({ ...CATALOG[p], qty: 1 + Math.floor(random() * 3) })),
    };
  });
}

/** mulberry32 seeded from a string: small, fast, and the same sequence on every machine. */
function seededRandom(seed: string): () => number {
  let state = createHash('sha256').update(seed).digest().readUInt32BE(0);
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
