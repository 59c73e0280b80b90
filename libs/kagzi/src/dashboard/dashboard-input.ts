import { BadRequestException } from '@nestjs/common';
import { z } from 'zod';
import { textProblem } from '../common/names';
import { describeIssues } from '../common/resolve-options';
import { RUN_STATUSES, RunStatus } from '../interfaces/run.interface';

const statusList = z
  .string()
  .transform((text) => text.split(',').map((s) => s.trim().toUpperCase()).filter((s) => s.length > 0))
  .pipe(z.array(z.enum(RUN_STATUSES as [RunStatus, ...RunStatus[]], { message: `each status must be one of ${RUN_STATUSES.join(', ')}` })).max(RUN_STATUSES.length));

/** `GET {path}/api/runs` query: every parameter optional; unknown ones refused, so a typo is not silently ignored. */
export const runsQuery = z
  .object({
    workflow: z
      .string()
      .min(1)
      .max(200)
      .refine((name) => textProblem(name) === undefined, { message: 'must be text PostgreSQL can store (no NUL, no lone surrogate)' })
      .optional(),
    status: statusList.optional(),
    q: z
      .string()
      .trim()
      .min(1)
      .max(500)
      .refine((q) => textProblem(q) === undefined, { message: 'must be text PostgreSQL can store (no NUL, no lone surrogate)' })
      .optional(),
    cursor: z.string().min(1).max(500).optional(),
    limit: z.coerce.number().int().min(1).max(200).optional(),
  })
  .strict();

export const cancelBody = z.object({ reason: z.string().max(2000).optional() }).strict();
export const emptyBody = z.object({}).strict();
export const signalBody = z.object({ name: z.string().min(1).max(200), payload: z.unknown().optional() }).strict();
export const defaultVersionBody = z.object({ version: z.number().int().min(1) }).strict();
export const versionParam = z.coerce.number().int().min(1).max(2_147_483_647);

/** Parses `value` or answers 400 `{ code: 'KAGZI_BAD_REQUEST', message }` naming what is wrong. */
export function parseInput<T extends z.ZodTypeAny>(schema: T, value: unknown, what: string): z.infer<T> {
  const parsed = schema.safeParse(value ?? {});
  if (!parsed.success) throw new BadRequestException({ code: 'KAGZI_BAD_REQUEST', message: `Invalid ${what}: ${describeIssues(parsed.error, what)}` });
  return parsed.data;
}
