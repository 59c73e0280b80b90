import { Workflow, WorkflowContext, WorkflowDefinition } from '@kagzi/nestjs';
import { DigestService } from './digest.service';

/**
 * Every night at 03:00 Berlin time (02:00 UTC in winter, 01:00 in summer). Every worker process keeps the
 * schedule; each tick starts exactly one run, with the tick as `scheduledAt`.
 */
@Workflow({ name: 'example-nightly-digest', schedule: { cron: '0 3 * * *', timezone: 'Europe/Berlin' } })
export class NightlyDigestWorkflow implements WorkflowDefinition<{ scheduledAt: Date }, string> {
  constructor(private readonly digests: DigestService) {}

  async run(input: { scheduledAt: Date }, _ctx: WorkflowContext): Promise<string> {
    const tick = new Date(input.scheduledAt).toISOString();
    const activity = await this.digests.collect(tick);
    return this.digests.send(tick.slice(0, 10), activity.orders);
  }
}
