import { Workflow, WorkflowContext } from '@kagzi/nestjs';
import { LedgerService, Transfer } from './ledger.service';

@Workflow({ name: 'example-transfer' })
export class TransferWorkflow {
  constructor(private readonly ledger: LedgerService) {}

  async run(input: Transfer, _ctx: WorkflowContext): Promise<{ transferId: string; entryId: string; fromBalance: number }> {
    const { entryId, fromBalance } = await this.ledger.transfer(input);
    await this.ledger.sendReceipt(input.transferId, entryId);
    return { transferId: input.transferId, entryId, fromBalance };
  }
}
