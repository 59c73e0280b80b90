/** One measured figure: printed as a JSON line on stdout and as a readable line on stderr. */
export interface Figure {
  scenario: string;
  metric: string;
  value: number;
  unit?: string;
  /** Sample size behind the value. */
  n?: number;
  /** From the issue: `>=1000`, `<=5`, `==0`. */
  target?: string;
  /** Settings the figure was measured with (worker concurrency, …). */
  params?: Record<string, unknown>;
  /** Breakdown and context; not compared against anything. */
  detail?: Record<string, unknown>;
}

export function emit(figure: Figure): void {
  const value = round(figure.value);
  const met = figure.target === undefined ? undefined : meets(value, figure.target);
  const line = { ...figure, value, ...(met === undefined ? {} : { met }) };
  process.stdout.write(`${JSON.stringify(line)}\n`);
  const params = figure.params ? ` ${Object.entries(figure.params).map(([k, v]) => `${k}=${String(v)}`).join(' ')}` : '';
  const verdict = figure.target === undefined ? '' : ` (target ${figure.target}: ${met ? 'met' : 'MISSED'})`;
  const n = figure.n === undefined ? '' : ` n=${figure.n}`;
  note(`[${figure.scenario}] ${figure.metric} = ${value}${figure.unit ? ` ${figure.unit}` : ''}${verdict}${n}${params}`);
}

/** A readable line on stderr (stdout carries only JSON figures). */
export function note(text: string): void {
  process.stderr.write(`${text}\n`);
}

export function meets(value: number, target: string): boolean {
  const m = /^(>=|<=|==|<|>)\s*(-?[\d.]+)$/.exec(target.trim());
  if (!m) return false;
  const bound = Number(m[2]);
  switch (m[1]) {
    case '>=':
      return value >= bound;
    case '<=':
      return value <= bound;
    case '<':
      return value < bound;
    case '>':
      return value > bound;
    default:
      return value === bound;
  }
}

export function round(value: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

export function median(values: readonly number[]): number {
  return percentile([...values].sort((a, b) => a - b), 50);
}

export function summarize(values: readonly number[]): { p50: number; p95: number; p99: number; min: number; max: number; mean: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const mean = sorted.reduce((a, b) => a + b, 0) / Math.max(1, sorted.length);
  return {
    p50: round(percentile(sorted, 50)),
    p95: round(percentile(sorted, 95)),
    p99: round(percentile(sorted, 99)),
    min: round(sorted[0] ?? NaN),
    max: round(sorted[sorted.length - 1] ?? NaN),
    mean: round(mean),
  };
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Nearest-rank percentiles that describe a sample's spread. */
export function spread(values: readonly number[], digits = 3): { p5: number; p25: number; p50: number; p75: number; p95: number; n: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p: number): number => round(percentile(sorted, p), digits);
  return { p5: at(5), p25: at(25), p50: at(50), p75: at(75), p95: at(95), n: sorted.length };
}

/**
 * 95 % confidence interval of the median by the percentile bootstrap (2,000 resamples, fixed seed so
 * a re-run of the same sample prints the same interval).
 */
export function medianCi95(values: readonly number[], resamples = 2000): [number, number] {
  if (values.length === 0) return [NaN, NaN];
  let seed = 0x9e3779b9;
  const random = (): number => {
    // mulberry32
    seed = (seed + 0x6d2b79f5) | 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const medians: number[] = [];
  const sample = new Array<number>(values.length);
  for (let r = 0; r < resamples; r++) {
    for (let i = 0; i < values.length; i++) sample[i] = values[Math.floor(random() * values.length)];
    medians.push(median(sample));
  }
  medians.sort((a, b) => a - b);
  return [percentile(medians, 2.5), percentile(medians, 97.5)];
}
