/**
 * Opt-in specs (test/opt-in/*.optin.ts): they start servers of their own beside the test PostgreSQL (a
 * streaming replica, PgBouncer) and change the local server's pg_hba.conf if they must, so `npm test`
 * never runs them. `npm run test:replica`, `npm run test:pgbouncer`.
 */
const base = require('./jest.config.js');

/** @type {import('jest').Config} */
module.exports = {
  ...base,
  testMatch: ['<rootDir>/test/opt-in/**/*.optin.ts'],
  testTimeout: 120000,
  maxWorkers: 1,
};
