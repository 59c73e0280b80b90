/**
 * apps/examples/versioning: a deploy from v1 to v2 with both classes side by side: setDefaultVersion,
 * a run pinned to v1 finishing on v1's code after the switch, then v1 drained and deprecated.
 */
import { WorkflowVersionDeprecatedError } from '@kagzi/nestjs';
import { KagziTesting } from '@kagzi/nestjs/testing';
import { SHIPMENT, ShipmentResult } from '../../apps/examples/versioning/src/shipment.workflows';
import { VersioningModule } from '../../apps/examples/versioning/src/versioning.module';
import { createTestDatabase, TestDatabase } from '../support/database';

let db: TestDatabase;
let kt: KagziTesting;

beforeAll(async () => {
  db = await createTestDatabase('example_versioning');
  kt = await KagziTesting.create({ imports: [VersioningModule], options: { database: { url: db.url } } });
});

afterAll(async () => {
  await kt?.close();
  await db?.drop();
});

const start = (orderId: string, version?: number) => kt.client.start<{ orderId: string }, ShipmentResult>(SHIPMENT, { orderId }, version ? { version } : {});

test('a run started on v1 finishes on v1 after the default moves to v2; new runs take v2; then v1 is retired', async () => {
  await kt.client.setDefaultVersion(SHIPMENT, 1);
  const old = await start('o-old');
  await kt.waitForStatus(old, 'SLEEPING'); // in flight on v1, at the cut-off

  await kt.client.setDefaultVersion(SHIPMENT, 2);
  const current = await start('o-new');
  const pinned = await start('o-pinned', 1); // a caller may still ask for v1 explicitly until it is deprecated
  await kt.waitForStatus(current, 'SLEEPING');
  await kt.waitForStatus(pinned, 'SLEEPING');
  expect(await kt.client.countWorkflows({ name: SHIPMENT, version: 1, status: 'SLEEPING' })).toBe(2);

  await kt.clock.advance('2s');
  await expect(old.result({ timeout: '5s' })).resolves.toEqual({ orderId: 'o-old', tracking: 'trk-res-o-old', version: 1 });
  await expect(pinned.result({ timeout: '5s' })).resolves.toEqual({ orderId: 'o-pinned', tracking: 'trk-res-o-pinned', version: 1 });
  await expect(current.result({ timeout: '5s' })).resolves.toEqual({ orderId: 'o-new', tracking: 'trk-res-o-new', version: 2, fraudCheck: 'clear' });
  const stepsOf = async (runId: string) => (await kt.client.getRun(runId)).steps.map((s) => s.name);
  expect(await stepsOf(old.runId)).not.toContain('ShippingService.screenForFraud');
  expect(await stepsOf(current.runId)).toContain('ShippingService.screenForFraud');

  // drained: nothing of v1 in flight, so it can be deprecated; starting on it is refused from now on
  expect(await kt.client.countWorkflows({ name: SHIPMENT, version: 1, status: ['PENDING', 'RUNNING', 'SLEEPING', 'WAITING'] })).toBe(0);
  await kt.client.deprecateVersion(SHIPMENT, 1);
  await expect(start('o-late', 1)).rejects.toBeInstanceOf(WorkflowVersionDeprecatedError);
  const versions = await kt.client.listVersions(SHIPMENT);
  expect(versions.map((v) => [v.version, v.isDefault, v.deprecated])).toEqual([
    [1, false, true],
    [2, true, false],
  ]);
});
