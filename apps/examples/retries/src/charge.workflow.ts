import { ErrorKind, StepError, Workflow, WorkflowContext } from '@kagzi/nestjs';
import { PaymentsService } from './payments.service';

export interface ChargeInput {
  orderId: string;
  cents: number;
}
export type ChargeResult = { orderId: string; status: 'paid'; chargeId: string } | { orderId: string; status: 'declined'; reason: string };

@Workflow({ name: 'example-charge' })
export class ChargeWorkflow {
  constructor(private readonly payments: PaymentsService) {}

  async run(input: ChargeInput, ctx: WorkflowContext): Promise<ChargeResult> {
    try {
      const charge = await this.payments.charge(input.orderId, input.cents);
      return { orderId: input.orderId, status: 'paid', chargeId: charge.chargeId };
    } catch (err) {
      // Branch on what is stored (the kind, the thrown class's name on the cause), never on instanceof of
      // the SDK's class: a replay rebuilds the error from the database.
      if (err instanceof StepError && err.kind === ErrorKind.BusinessLogicError && err.cause instanceof Error && err.cause.name === 'GatewayError') {
        ctx.logger.warn(`order ${input.orderId}: card declined`);
        return { orderId: input.orderId, status: 'declined', reason: err.message };
      }
      throw err; // the run fails with the step's error
    }
  }
}
