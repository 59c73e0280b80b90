import { LeaseLostError } from '../errors/lease-lost.error';
import { RunStop } from './run-stop';
import { RunWriter } from './run-writer';
import { RunLogger } from './run-logger';

const quiet = { log: () => undefined, warn: () => undefined, error: () => undefined } as unknown as RunLogger;

function conflict(code: string): Error & { code: string } {
  return Object.assign(new Error(code === '40P01' ? 'deadlock detected' : 'could not serialize access'), { code });
}

describe('RunWriter', () => {
  it('writes again after a deadlock or serialization failure (the victim was rolled back whole)', async () => {
    const writer = new RunWriter('run-1', new RunStop('run-1', () => undefined), quiet);
    let calls = 0;
    const result = await writer.write('recording a step', async () => {
      calls++;
      if (calls === 1) throw conflict('40P01');
      if (calls === 2) throw conflict('40001');
      return 'written';
    });
    expect([result, calls]).toEqual(['written', 3]);
  });

  it('gives up after a few conflicts in a row and stops the run here', async () => {
    const stop = new RunStop('run-2', () => undefined);
    const writer = new RunWriter('run-2', stop, quiet);
    let calls = 0;
    const failing = writer.write('recording a step', async () => {
      calls++;
      throw conflict('40P01');
    });
    await expect(failing).rejects.toBeInstanceOf(LeaseLostError);
    expect(calls).toBe(6);
    expect(stop.reason).toMatchObject({ kind: 'lost' });
  });

  it('does not retry other errors', async () => {
    const writer = new RunWriter('run-3', new RunStop('run-3', () => undefined), quiet);
    let calls = 0;
    const failing = writer.write('recording a step', async () => {
      calls++;
      throw Object.assign(new Error('permission denied'), { code: '42501' });
    });
    await expect(failing).rejects.toBeInstanceOf(LeaseLostError);
    expect(calls).toBe(1);
  });
});
