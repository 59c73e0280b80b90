import { replayOutput } from './replay-output';
import { RunVerdict } from './replay-runs';

const id = (n: number): string => `00000000-0000-4000-8000-00000000000${n}`;
const ADVICE = 'Workflow code must make the same step calls with the same arguments on every replay; ship changed logic as a new workflow version.';

describe('replayOutput', () => {
  const verdicts: RunVerdict[] = [
    { runId: id(1), version: 12, status: 'WAITING', verdict: 'continues', ok: true, detail: 'step "Shop.audit" (Shop.audit#1)' },
    { runId: id(2), version: 3, status: 'RUNNING', verdict: 'fails', ok: false, detail: 'input.sku is required' },
    {
      runId: id(3), version: 3, status: 'COMPLETED', verdict: 'non-deterministic', ok: false,
      detail: `Non-determinism in run ${id(3)}: step "Shop.charge" (key Shop.charge#1) no longer matches the recorded history: it was called with different arguments than when the run first executed it. ${ADVICE}`,
    },
    { runId: id(4), version: 1, status: 'FAILED', verdict: 'skipped', ok: true, detail: 'the app registers no order v1 (the run has ended)' },
  ];

  test('one aligned line per run, the NON_DETERMINISM message without the run id and advice, which follows the summary once', () => {
    const output = replayOutput('order', verdicts);
    expect(output.text.split('\n')).toEqual([
      `${id(1)}  v12  WAITING    ok continues at step "Shop.audit" (Shop.audit#1)`,
      `${id(2)}  v3   RUNNING    FAILS where the run did not: input.sku is required`,
      `${id(3)}  v3   COMPLETED  NON-DETERMINISTIC: step "Shop.charge" (key Shop.charge#1) no longer matches the recorded history: it was called with different arguments than when the run first executed it.`,
      `${id(4)}  v1   FAILED     skipped: the app registers no order v1 (the run has ended)`,
      '4 runs replayed: 1 ok, 1 non-deterministic, 1 failing where the run did not, 1 skipped',
      ADVICE,
    ]);
    expect(output.failure).toBe('2 of 4 runs would fail with this code');
    expect(output.data).toEqual({ runs: verdicts, summary: { replayed: 4, ok: 1, nonDeterministic: 1, fails: 1, notRegistered: 0, skipped: 1 } });
  });

  test('all ok: no failure; no runs: one line saying so', () => {
    expect(replayOutput('order', [verdicts[0]])).toMatchObject({ failure: undefined, text: expect.stringMatching(/\n1 run replayed: 1 ok, 0 non-deterministic$/) });
    expect(replayOutput('order', [])).toEqual({
      data: { runs: [], summary: { replayed: 0, ok: 0, nonDeterministic: 0, fails: 0, notRegistered: 0, skipped: 0 } },
      text: '0 runs replayed: no run of workflow "order" matches',
      failure: undefined,
    });
  });
});
