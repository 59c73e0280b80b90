import { Injectable } from '@nestjs/common';
import { Step } from '@kagzi/nestjs';

/** The side effects of an expense claim; `sent` and `paid` let the example and its test see them. */
@Injectable()
export class ExpenseService {
  readonly sent: string[] = [];
  readonly paid: string[] = [];

  @Step()
  async askForApproval(claimId: string, approver: string): Promise<void> {
    this.sent.push(`${approver}: please approve ${claimId}`);
  }

  @Step()
  async reimburse(claimId: string, cents: number): Promise<string> {
    this.paid.push(claimId);
    return `payout-${claimId}-${cents}`;
  }

  @Step()
  async notifyClaimant(claimId: string, text: string): Promise<void> {
    this.sent.push(`claimant of ${claimId}: ${text}`);
  }
}
