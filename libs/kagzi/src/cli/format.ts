import Table from 'cli-table3';
import ms from 'ms';

/** Formatting for the human output: durations with `ms`, times in UTC, plain (uncoloured) tables. */

/** 850ms, 1.4s, 12s, 5m, 2h, 3d: precise below a minute, where step timings live. */
export function formatDuration(millis: number): string {
  const abs = Math.abs(millis);
  if (abs < 1_000) return `${Math.round(millis)}ms`;
  if (abs < 10_000) return `${(millis / 1_000).toFixed(1)}s`;
  if (abs < 60_000) return `${Math.round(millis / 1_000)}s`;
  return ms(Math.round(millis));
}

/** `5m ago`, or `in 5m` for a time still ahead. */
export function formatAgo(at: Date, now: Date): string {
  const delta = now.getTime() - at.getTime();
  return delta >= 0 ? `${formatDuration(delta)} ago` : `in ${formatDuration(-delta)}`;
}

/** `2026-05-01 03:12:45Z`: UTC, to the second. */
export function formatTime(at: Date): string {
  return `${at.toISOString().slice(0, 19).replace('T', ' ')}Z`;
}

/** `2026-05-01 03:12:45Z (5m ago)`. */
export function formatTimeAgo(at: Date, now: Date): string {
  return `${formatTime(at)} (${formatAgo(at, now)})`;
}

/** A value as one line of JSON, cut to `max` characters. */
export function formatValue(value: unknown, max = 120): string {
  if (value === undefined) return '-';
  return truncate(JSON.stringify(value) ?? String(value), max);
}

/** `text` cut to `max` characters, on one line. */
export function truncate(text: string, max: number): string {
  const line = text.replace(/\s*\n\s*/g, ' ');
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

/** A line under the header only: one row per line, as compact as a terminal wants it. */
const NO_ROW_LINES = { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' };

/** A table with a header row; no colours, so piped output carries no escape codes. */
export function renderTable(head: string[], rows: Array<Array<string | number>>): string {
  const table = new Table({ head, chars: NO_ROW_LINES, style: { head: [], border: [] } });
  table.push(...rows.map((row) => row.map((cell) => String(cell))));
  return table.toString();
}

/** `key  value` lines with the keys padded to one width. */
export function renderFields(fields: Array<[string, string]>): string {
  const width = Math.max(...fields.map(([key]) => key.length));
  return fields.map(([key, value]) => `${key.padEnd(width)}  ${value}`).join('\n');
}

export function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}
