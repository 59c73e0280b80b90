import { Module } from '@nestjs/common';
import { WarehouseService } from './report.services';
import { StockReportWorkflow } from './stock-report.workflow';

@Module({ providers: [WarehouseService, StockReportWorkflow] })
export class ObservabilityModule {}
