import { z } from 'zod';

/** Printable text: PostgreSQL refuses NUL in text and jsonb, so it is refused here with a 400 instead. */
const text = (max: number) => z.string().min(1).max(max).regex(/^[^\u0000-\u001f]*$/, 'must not contain control characters');

export const createOrderSchema = z
  .object({
    customerId: text(100),
    items: z
      .array(
        z
          .object({
            sku: text(64),
            qty: z.number().int().min(1).max(1000),
            price: z.number().nonnegative().max(1_000_000),
          })
          .strict(),
      )
      .min(1)
      .max(100),
  })
  .strict();

export type CreateOrderDto = z.infer<typeof createOrderSchema>;
