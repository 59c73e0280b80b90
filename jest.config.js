/** @type {import('jest').Config} */
module.exports = {
  rootDir: __dirname,
  testEnvironment: 'node',
  testMatch: ['<rootDir>/test/**/*.spec.ts', '<rootDir>/libs/**/*.spec.ts'],
  transform: {
    // project code keeps tsc semantics (decorator metadata, circular imports between injected classes)
    '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }],
    // Nest 12 and superjson ship ESM only: turn them into CommonJS for jest's module system
    '^.+\\.m?js$': ['@swc/jest', { module: { type: 'commonjs' } }],
  },
  transformIgnorePatterns: ['/node_modules/(?!(@nestjs|superjson|copy-anything|is-what)/)'],
  moduleNameMapper: { '^@kagzi/nestjs$': '<rootDir>/libs/kagzi/src', '^@kagzi/nestjs/testing$': '<rootDir>/libs/kagzi/src/testing' },
  globalSetup: '<rootDir>/test/support/global-setup.mjs',
  globalTeardown: '<rootDir>/test/support/global-teardown.mjs',
  testTimeout: 60000,
  maxWorkers: 2,
};
