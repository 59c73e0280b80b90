import { Module } from '@nestjs/common';
import { ExpenseApprovalWorkflow } from './expense-approval.workflow';
import { ExpenseService } from './expense.services';

@Module({ providers: [ExpenseService, ExpenseApprovalWorkflow] })
export class SignalsModule {}
