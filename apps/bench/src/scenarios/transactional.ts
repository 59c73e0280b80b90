import { performance } from 'node:perf_hooks';
import { bootBenchApp } from '../bench-app';
import { emit, median, note, round, summarize } from '../report';
import { ScenarioContext } from '../scenario';
import { ThreeStepWorkflow, ThreeTxStepWorkflow } from '../workflows';

const ROUNDS = 4;

/**
 * What a transactional step costs against a plain one: the 3-step workflow with plain steps and with
 * `@Step({ transactional: true })` steps (empty bodies, so the figure is the transaction itself), one run
 * at a time, rounds alternating plain / transactional. A transactional step sends START TRANSACTION, the
 * record and COMMIT (test/transactional-steps.spec.ts lists them) where a plain one sends the record alone.
 */
export async function runTransactional(ctx: ScenarioContext): Promise<void> {
  const n = ctx.config.latencyN;
  const app = await bootBenchApp(ctx.target, {});
  const p50 = { plain: [] as number[], transactional: [] as number[] };
  try {
    await app.reset();
    for (let i = 0; i < 50; i++) {
      await (await app.client.start(ThreeStepWorkflow, { n: i })).result();
      await (await app.client.start(ThreeTxStepWorkflow, { n: i })).result();
    }
    for (let r = 0; r < ROUNDS; r++) {
      for (const variant of r % 2 === 0 ? (['plain', 'transactional'] as const) : (['transactional', 'plain'] as const)) {
        const workflow = variant === 'plain' ? ThreeStepWorkflow : ThreeTxStepWorkflow;
        const times: number[] = [];
        for (let i = 0; i < n; i++) {
          const t0 = performance.now();
          await (await app.client.start(workflow, { n: i })).result();
          times.push(performance.now() - t0);
        }
        p50[variant].push(summarize(times).p50);
        note(`[transactional] round ${r + 1} ${variant}: p50 ${round(summarize(times).p50)} ms`);
      }
    }
  } finally {
    await app.close();
  }
  const params = { workflow: '3 steps', runs_per_round: n, rounds: ROUNDS };
  const plain = median(p50.plain);
  const transactional = median(p50.transactional);
  emit({ scenario: 'transactional', metric: 'p50_ms_plain_steps', value: plain, unit: 'ms', n: n * ROUNDS, params, detail: { per_round: p50.plain } });
  emit({ scenario: 'transactional', metric: 'p50_ms_transactional_steps', value: transactional, unit: 'ms', n: n * ROUNDS, params, detail: { per_round: p50.transactional } });
  emit({ scenario: 'transactional', metric: 'added_ms_per_step', value: (transactional - plain) / 3, unit: 'ms', params });
}
