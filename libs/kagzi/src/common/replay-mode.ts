/**
 * Replay mode: `kagzi replay` boots an app's own module only to replay stored runs against its code,
 * and that boot must write nothing to the database the app is configured with. Once entered (for the
 * rest of the process), `resolveKagziOptions` resolves every KagziModule to `replay: true`: no worker,
 * no migrations, no retention sweeps; the client records no versions at bootstrap and no schedule
 * ticks. A process-wide flag on `globalThis`, so it holds even if the app loads its own copy of
 * @kagzi/nestjs.
 */
const REPLAY_MODE = Symbol.for('kagzi.replayMode');

type Flagged = typeof globalThis & { [REPLAY_MODE]?: boolean };

export function enterReplayMode(): void {
  (globalThis as Flagged)[REPLAY_MODE] = true;
}

export function inReplayMode(): boolean {
  return (globalThis as Flagged)[REPLAY_MODE] === true;
}
