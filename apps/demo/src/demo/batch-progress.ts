import { MultiBar, Options, Presets, SingleBar } from 'cli-progress';
import { OrderOutcome } from './order-batch';

export interface BatchProgress {
  settled(outcome: OrderOutcome): void;
  /** In a terminal: a sink that prints a line above the live bar. Elsewhere there is nothing to protect. */
  readonly logSink?: (line: string) => void;
  stop(): void;
}

const OPTIONS: Options = {
  format: ' {bar} {percentage}% | {value}/{total} runs settled | completed {completed} | failed {failed} | {duration}s',
  hideCursor: false,
  // Outside a terminal (CI logs, pipes) print one plain status line per second instead of redrawing.
  noTTYOutput: true,
  notTTYSchedule: 1000,
};

/** A live bar of settled runs on stderr. */
export function startBatchProgress(total: number, stream: NodeJS.WriteStream = process.stderr): BatchProgress {
  const counts = { completed: 0, failed: 0 };
  const count = (outcome: OrderOutcome): void => {
    if (outcome.status === 'COMPLETED') counts.completed++;
    else counts.failed++;
  };
  if (!stream.isTTY) {
    const bar = new SingleBar({ ...OPTIONS, stream }, Presets.shades_classic);
    bar.start(total, 0, counts);
    return {
      settled: (outcome) => (count(outcome), bar.increment(1, counts)),
      stop: () => bar.stop(),
    };
  }
  // MultiBar, even for one bar, because it can print log lines above itself without garbling the bar.
  const bars = new MultiBar({ ...OPTIONS, stream }, Presets.shades_classic);
  const bar = bars.create(total, 0, counts);
  return {
    settled: (outcome) => (count(outcome), bar.increment(1, counts)),
    logSink: (line) => bars.log(line),
    stop: () => bars.stop(),
  };
}
