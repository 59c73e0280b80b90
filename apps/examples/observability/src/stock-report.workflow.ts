import { Workflow, WorkflowContext } from '@kagzi/nestjs';
import { WarehouseService } from './report.services';

@Workflow({ name: 'example-stock-report' })
export class StockReportWorkflow {
  constructor(private readonly warehouse: WarehouseService) {}

  async run(input: { warehouse: string }, ctx: WorkflowContext): Promise<string> {
    // ctx.logger writes each line once, although the code re-runs from the top after the retry's back-off
    ctx.logger.log(`building the stock report of ${input.warehouse}`);
    const units = await this.warehouse.stockLevels(input.warehouse);
    ctx.logger.log(`${input.warehouse} has ${units} units`);
    return this.warehouse.publish(input.warehouse, units);
  }
}
