import { DynamicModule, Module } from '@nestjs/common';
import { KagziModule, KagziModuleOptions } from '@kagzi/nestjs';
import { BENCH_WORKFLOWS } from './workflows';

/** A Nest app with Kagzi and the fixture workflows; each scenario boots it with its own worker options. */
@Module({})
export class BenchModule {
  static forRoot(kagzi: KagziModuleOptions): DynamicModule {
    return {
      module: BenchModule,
      imports: [KagziModule.forRoot(kagzi)],
      providers: [...BENCH_WORKFLOWS],
    };
  }
}
