import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { Client } from 'pg';

const TICK_MS = 10; // USER_HZ is 100 on Linux

interface Sample {
  at: number;
  node: NodeJS.CpuUsage;
  postgres?: Map<number, number>;
  machine?: { busy: number; total: number };
}

export interface CpuReport {
  wall_ms: number;
  /** CPU time of this Node process (client + worker + pg driver). */
  node_cpu_ms: number;
  /** CPU time of the PostgreSQL processes serving the bench database (+ WAL writer etc.); local server only. */
  postgres_cpu_ms?: number;
  /** Share of all cores busy during the window, whoever used them. */
  machine_busy_pct?: number;
  cores: number;
}

/**
 * Where the CPU went during a measurement: this process, the PostgreSQL backends of the bench database
 * (read from /proc, so only when the server runs on this machine) and the machine as a whole. On a
 * machine shared with other work the difference is what the other work took.
 */
export class CpuMeter {
  private first?: Sample;

  constructor(private readonly admin?: Client) {}

  async start(): Promise<void> {
    this.first = await this.sample();
  }

  async stop(): Promise<CpuReport> {
    const first = this.first;
    if (!first) throw new Error('CpuMeter.stop() before start()');
    const last = await this.sample();
    const node = (last.node.user - first.node.user + last.node.system - first.node.system) / 1000;
    let postgres: number | undefined;
    if (first.postgres && last.postgres) {
      postgres = 0;
      for (const [pid, ticks] of last.postgres) postgres += (ticks - (first.postgres.get(pid) ?? 0)) * TICK_MS;
    }
    const machine =
      first.machine && last.machine && last.machine.total > first.machine.total
        ? (100 * (last.machine.busy - first.machine.busy)) / (last.machine.total - first.machine.total)
        : undefined;
    return { wall_ms: last.at - first.at, node_cpu_ms: node, postgres_cpu_ms: postgres, machine_busy_pct: machine, cores: cpus().length };
  }

  private async sample(): Promise<Sample> {
    return { at: performance.now(), node: process.cpuUsage(), postgres: await this.postgresTicks(), machine: machineTicks() };
  }

  private async postgresTicks(): Promise<Map<number, number> | undefined> {
    if (!this.admin || process.platform !== 'linux') return undefined;
    try {
      const { rows } = await this.admin.query<{ pid: number }>(
        'select pid from pg_stat_activity where datname = current_database() or datname is null',
      );
      const ticks = new Map<number, number>();
      for (const { pid } of rows) {
        const t = processTicks(pid);
        if (t !== undefined) ticks.set(pid, t);
      }
      return ticks.size > 0 ? ticks : undefined;
    } catch {
      return undefined;
    }
  }
}

function processTicks(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]); // utime + stime (fields 14 and 15 of the full line)
  } catch {
    return undefined;
  }
}

function machineTicks(): { busy: number; total: number } | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    const total = v.slice(0, 8).reduce((a, b) => a + b, 0); // user nice system idle iowait irq softirq steal
    return { busy: total - v[3] - v[4], total };
  } catch {
    return undefined;
  }
}
