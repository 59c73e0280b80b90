import { z } from 'zod';

export const createOrderSchema = z
  .object({
    customerId: z.string().min(1).max(100),
    items: z
      .array(
        z
          .object({
            sku: z.string().min(1).max(64),
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
