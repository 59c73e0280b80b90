/**
 * The due time of a run being parked (sleep, back-off, signal wait): `due` — or now, when a cancel was
 * requested and not yet delivered to its code (`cancel_cut_at` unset). The cancel request and the park
 * lock the same row: a request that commits first saw the run RUNNING and told only its worker, which
 * may be parking it; this makes the parked run due at once so a worker replays it and delivers the
 * cancel. Once delivered, parking (a sleep inside `ctx.nonCancellable`) keeps its own due time.
 */
export const dueUnlessCancelPending = (due: string): string =>
  `case when cancel_requested_at is not null and cancel_cut_at is null then now() else ${due} end`;
