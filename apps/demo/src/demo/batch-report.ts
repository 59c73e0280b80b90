import Table from 'cli-table3';
import { OrderOutcome } from './order-batch';

export interface BatchFacts {
  outcomes: readonly OrderOutcome[];
  totalMs: number;
  /** Extra key/value rows (boot time, database, checks). */
  extra: ReadonlyArray<[string, string]>;
}

/** The summary table and a few sample rows, as text for stdout. */
export function renderReport({ outcomes, totalMs, extra }: BatchFacts): string {
  const style = { head: process.stdout.isTTY ? ['cyan'] : [], border: [] as string[] };
  const chars = { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' }; // no rule between body rows
  const completed = outcomes.filter((o) => o.status === 'COMPLETED').length;
  const failed = outcomes.filter((o) => o.status === 'FAILED').length;
  const errors = outcomes.length - completed - failed;
  const latencies = outcomes.filter((o) => o.status === 'COMPLETED').map((o) => o.latencyMs);

  const summary = new Table({ style, chars });
  summary.push(
    ['orders', String(outcomes.length)],
    ['completed', String(completed)],
    ['failed', String(failed)],
    ...(errors > 0 ? [['no result (timeout, error)', String(errors)]] : []),
    ['total time', `${(totalMs / 1000).toFixed(2)} s`],
    // Runs that reached an end (completed or failed) per second of batch time.
    ['throughput', `${((completed + failed) / (totalMs / 1000)).toFixed(1)} runs/s`],
    ['latency p50', formatMs(percentile(latencies, 50))],
    ['latency p95', formatMs(percentile(latencies, 95))],
    ...extra.map(([k, v]) => [k, v]),
  );

  const samples = new Table({ head: ['order id', 'status', 'shipment id / error', 'latency'], style, chars });
  for (const o of pickSamples(outcomes)) {
    samples.push([o.orderId, o.status, o.shipmentId ?? truncate(o.detail ?? '', 72), formatMs(o.latencyMs)]);
  }
  return `${summary.toString()}\n${samples.toString()}\n`;
}

/** The first few orders, plus up to three that did not complete. */
function pickSamples(outcomes: readonly OrderOutcome[]): OrderOutcome[] {
  const first = outcomes.slice(0, 5);
  const troubled = outcomes.filter((o) => o.status !== 'COMPLETED' && !first.includes(o)).slice(0, 3);
  return [...first, ...troubled];
}

/** Nearest-rank percentile; undefined for no samples. */
export function percentile(values: readonly number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function formatMs(ms: number | undefined): string {
  return ms === undefined ? '-' : `${Math.round(ms)} ms`;
}
