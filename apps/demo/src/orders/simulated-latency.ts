import { setTimeout as sleep } from 'node:timers/promises';

/** Stands in for a network call to another system: resolves after a few ms to 50 ms. */
export function simulateLatency(minMs = 3, maxMs = 50): Promise<void> {
  return sleep(minMs + Math.floor(Math.random() * (maxMs - minMs + 1)));
}
