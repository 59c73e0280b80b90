import { ConfigurableModuleBuilder } from '@nestjs/common';
import { KagziModuleOptions } from './interfaces/kagzi-options.interface';

export const { ConfigurableModuleClass, MODULE_OPTIONS_TOKEN, OPTIONS_TYPE, ASYNC_OPTIONS_TYPE } =
  new ConfigurableModuleBuilder<KagziModuleOptions>()
    .setClassMethodName('forRoot')
    .setExtras({ isGlobal: true }, (definition, extras) => ({ ...definition, global: extras.isGlobal }))
    .build();

/**
 * What `KagziModule.forRootAsync()` takes: `imports`, `inject` and `useFactory` (or `useClass`/`useExisting`) resolving
 * {@link KagziModuleOptions}, and `isGlobal` (default true: every module can inject the client). Nest's
 * `ConfigurableModuleAsyncOptions<KagziModuleOptions>` plus `isGlobal`.
 */
export type KagziModuleAsyncOptions = typeof ASYNC_OPTIONS_TYPE;
