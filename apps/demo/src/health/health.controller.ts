import { Controller, Get } from '@nestjs/common';
import { HealthCheck, HealthCheckService } from '@nestjs/terminus';
import { KagziHealthIndicator } from '@kagzi/nestjs';

@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly kagzi: KagziHealthIndicator,
  ) {}

  /** 200 while the database answers and the worker polls; 503 once it starts draining for shutdown. */
  @Get()
  @HealthCheck()
  check() {
    return this.health.check([() => this.kagzi.isHealthy()]);
  }
}
