import { Body, ConflictException, Controller, Get, Headers, HttpCode, HttpStatus, NotFoundException, Param, ParseUUIDPipe, Post } from '@nestjs/common';
import { RunNotActiveError, RunNotFoundError, WorkflowClient } from '@kagzi/nestjs';
import { randomUUID } from 'node:crypto';
import { ZodValidationPipe } from '../common/zod-validation.pipe';
import { CreateOrderDto, createOrderSchema } from './create-order.dto';
import { OrderView, toOrderView } from './order-view';
import { OrderInput, OrderResult } from './order.types';
import { OrderWorkflow } from './order.workflow';

@Controller('orders')
export class OrdersController {
  constructor(private readonly workflows: WorkflowClient) {}

  /** Accepts the order and returns at once; the workflow runs in the background (poll GET /orders/:runId). */
  @Post()
  @HttpCode(HttpStatus.ACCEPTED)
  async create(
    @Body(new ZodValidationPipe(createOrderSchema)) body: CreateOrderDto,
    @Headers('idempotency-key') idempotencyKey?: string,
  ): Promise<{ runId: string }> {
    const input: OrderInput = { orderId: `ord_${randomUUID()}`, customerId: body.customerId, items: body.items };
    // A retried POST with the same Idempotency-Key gets the first request's run, not a second order.
    const handle = await this.workflows.start<OrderInput, OrderResult>(OrderWorkflow, input, idempotencyKey ? { idempotencyKey } : {});
    return { runId: handle.runId };
  }

  /** Sends a signal to an order's run, e.g. POST /orders/:runId/signals/payment-confirmed {"method":"card"}. */
  @Post(':id/signals/:name')
  @HttpCode(HttpStatus.ACCEPTED)
  async signal(@Param('id', new ParseUUIDPipe()) id: string, @Param('name') name: string, @Body() payload: unknown): Promise<{ runId: string; signal: string }> {
    try {
      await this.workflows.signal(id, name, payload);
    } catch (err: unknown) {
      if (err instanceof RunNotFoundError) throw new NotFoundException(`No order run has id ${id}`);
      if (err instanceof RunNotActiveError) throw new ConflictException(err.message);
      throw err;
    }
    return { runId: id, signal: name };
  }

  @Get(':id')
  async findOne(@Param('id', new ParseUUIDPipe()) id: string): Promise<OrderView> {
    try {
      return toOrderView(await this.workflows.getRun(id));
    } catch (err: unknown) {
      if (err instanceof RunNotFoundError) throw new NotFoundException(`No order run has id ${id}`);
      throw err;
    }
  }
}
