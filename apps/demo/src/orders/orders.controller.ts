import { BadRequestException, Body, ConflictException, Controller, Get, Headers, HttpCode, HttpStatus, NotFoundException, Param, ParseUUIDPipe, Post } from '@nestjs/common';
import { InvalidOptionsError, RunNotActiveError, RunNotFoundError, WorkflowClient } from '@kagzi/nestjs';
import { ZodValidationPipe } from '../common/zod-validation.pipe';
import { CreateOrderDto, createOrderSchema } from './create-order.dto';
import { OrderView, toOrderView } from './order-view';
import { OrdersService, PlacedOrder } from './orders.service';

@Controller('orders')
export class OrdersController {
  constructor(
    private readonly orders: OrdersService,
    private readonly workflows: WorkflowClient,
  ) {}

  /**
   * Stores the order and starts its workflow in one transaction, and returns at once; the workflow runs
   * in the background (poll GET /orders/:runId). A retried POST with the same Idempotency-Key gets the
   * first request's order and run, not a second order.
   */
  @Post()
  @HttpCode(HttpStatus.ACCEPTED)
  async create(@Body(new ZodValidationPipe(createOrderSchema)) body: CreateOrderDto, @Headers('idempotency-key') idempotencyKey?: string): Promise<PlacedOrder> {
    try {
      return await this.orders.place({ customerId: body.customerId, items: body.items }, idempotencyKey || undefined);
    } catch (err: unknown) {
      // e.g. an Idempotency-Key longer than Kagzi accepts: the message names the limit
      if (err instanceof InvalidOptionsError) throw new BadRequestException(err.message);
      throw err;
    }
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
