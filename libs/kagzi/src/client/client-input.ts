import type { EntityManager } from 'typeorm';
import { z } from 'zod';
import { durationOption } from '../common/duration';
import { describeIssues } from '../common/resolve-options';
import { isUuid } from '../common/ids';
import { nameProblem, textProblem } from '../common/names';
import { InvalidOptionsError } from '../errors/invalid-options.error';
import { RunNotFoundError } from '../errors/run-not-found.error';
import { RunStatus, RUN_STATUSES } from '../interfaces/run.interface';

/** What callers pass to the client, checked before any of it reaches PostgreSQL. */

/** Versions are PostgreSQL integers. */
const MAX_VERSION = 2 ** 31 - 1;
const versionSchema = z.number().int().min(1).max(MAX_VERSION);
const nameSchema = z.string().superRefine((name, ctx) => {
  const problem = nameProblem(name);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});
/** timestamptz holds years 4713 BC to 294276 AD; a JavaScript Date reaches further. */
const dateSchema = z.date().refine((d) => d.getUTCFullYear() >= 1 && d.getUTCFullYear() <= 9999, 'must be a date between the years 1 and 9999');

const idempotencyKeySchema = z
  .string()
  .min(1)
  .max(512)
  .superRefine((key, ctx) => {
    const problem = textProblem(key);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

export const startOptionsSchema = z
  .object({
    version: versionSchema.optional(),
    idempotencyKey: idempotencyKeySchema.optional(),
    // At most 100 years: beyond that PostgreSQL cannot compute the due time.
    delay: durationOption().optional(),
    manager: z
      .custom<EntityManager>((value) => typeof value === 'object' && value !== null && typeof (value as { query?: unknown }).query === 'function', {
        message: 'must be a TypeORM EntityManager (the one a transaction callback receives)',
      })
      .optional(),
  })
  .strict();

const statusSchema = z.enum(RUN_STATUSES as [RunStatus, ...RunStatus[]]);
export const listSchema = z
  .object({
    name: nameSchema.optional(),
    version: versionSchema.optional(),
    status: z.union([statusSchema, z.array(statusSchema)]).optional(),
    createdAfter: dateSchema.optional(),
    createdBefore: dateSchema.optional(),
    limit: z.number().int().min(1).max(1000).optional(),
    cursor: z.string().min(1).optional(),
  })
  .strict();

export function assertName(name: string): void {
  const problem = nameProblem(name);
  if (problem) throw new InvalidOptionsError(`The workflow name ${problem}`);
}

/** The same rules as start()'s `idempotencyKey`: a string of 1 to 512 characters PostgreSQL can store. */
export function assertIdempotencyKey(key: string, api: string): void {
  const parsed = idempotencyKeySchema.safeParse(key);
  if (!parsed.success) throw new InvalidOptionsError(`${api}: invalid idempotencyKey: ${describeIssues(parsed.error, 'idempotencyKey')}`);
}

export function assertVersion(version: number): void {
  if (!Number.isInteger(version) || version < 1 || version > MAX_VERSION) {
    throw new InvalidOptionsError(`A workflow version is an integer from 1 to ${MAX_VERSION}; got ${String(version)}`);
  }
}

export function assertRunId(runId: string): void {
  if (!isUuid(runId)) {
    throw new RunNotFoundError(`"${String(runId)}" is not a run id (expected a UUID)`);
  }
}
