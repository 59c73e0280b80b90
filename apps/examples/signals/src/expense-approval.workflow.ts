import { Workflow, WorkflowContext } from '@kagzi/nestjs';
import { ExpenseService } from './expense.services';

export const DECISION = 'decision';
export interface Decision {
  approved: boolean;
  by: string;
}
export interface ClaimInput {
  claimId: string;
  cents: number;
  approver: string;
}
export type ClaimResult =
  | { claimId: string; status: 'paid'; payoutId: string; approvedBy: string }
  | { claimId: string; status: 'rejected'; by: string }
  | { claimId: string; status: 'expired' };

@Workflow({ name: 'example-expense-approval' })
export class ExpenseApprovalWorkflow {
  constructor(private readonly expenses: ExpenseService) {}

  async run(input: ClaimInput, ctx: WorkflowContext): Promise<ClaimResult> {
    await this.expenses.askForApproval(input.claimId, input.approver);
    await ctx.setEvent('stage', 'awaiting-approval'); // readable with client.getEvent(runId, 'stage')

    // The run parks (WAITING, no worker slot held) until client.signal(runId, 'decision', …) or 3 days pass.
    const decision = await ctx.waitForSignal<Decision>(DECISION, { timeout: '3d' });
    if (decision === undefined) {
      await ctx.setEvent('stage', 'expired');
      await this.expenses.notifyClaimant(input.claimId, 'no decision within 3 days: please resubmit');
      return { claimId: input.claimId, status: 'expired' };
    }
    await ctx.setEvent('stage', decision.approved ? 'approved' : 'rejected');
    if (!decision.approved) {
      await this.expenses.notifyClaimant(input.claimId, `rejected by ${decision.by}`);
      return { claimId: input.claimId, status: 'rejected', by: decision.by };
    }
    const payoutId = await this.expenses.reimburse(input.claimId, input.cents);
    return { claimId: input.claimId, status: 'paid', payoutId, approvedBy: decision.by };
  }
}
