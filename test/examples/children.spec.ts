/**
 * apps/examples/children: a parent fans out one child run per photo (ctx.executeChild inside ctx.parallel,
 * collect-all), joins them, and reports a failed child by its own error code.
 */
import { KagziTesting, replayRun } from '@kagzi/nestjs/testing';
import { AlbumWorkflow } from '../../apps/examples/children/src/album.workflow';
import { ChildrenModule } from '../../apps/examples/children/src/children.module';
import { ImagesService } from '../../apps/examples/children/src/images.service';
import { createTestDatabase, TestDatabase } from '../support/database';

let db: TestDatabase;
let kt: KagziTesting;

beforeAll(async () => {
  db = await createTestDatabase('example_children');
  // concurrency 1: the parent holds no worker slot while it waits for its children, so they still run
  kt = await KagziTesting.create({ imports: [ChildrenModule], options: { database: { url: db.url }, worker: { concurrency: 1 } } });
});

afterAll(async () => {
  await kt?.close();
  await db?.drop();
});

test('one child run per photo, joined by the parent, on a worker with a single slot', async () => {
  const photos = ['a.jpg', 'b.jpg', 'c.jpg', 'd.jpg'];
  const handle = await kt.client.start(AlbumWorkflow, { albumId: 'all-good', photos });
  const result = await handle.result({ timeout: '10s' });
  expect(result).toEqual({ albumId: 'all-good', url: 'https://example.test/albums/all-good?n=4', thumbnails: photos.map((p) => p.replace('.jpg', '-320w.jpg')), failed: [] });
  const run = await kt.client.getRun(handle.runId);
  expect(run.children.map((c) => [c.workflowName, c.status])).toEqual(photos.map(() => ['example-thumbnail', 'COMPLETED']));
  const child = await kt.client.getRun(run.children[0].runId);
  expect(child.parentRunId).toBe(handle.runId);
  expect(kt.app.get(ImagesService).resized.filter((p) => p === 'a.jpg')).toHaveLength(2); // two sizes, each once
});

test("a failed child is collected with its own error code, and the parent's replay gives the same result", async () => {
  const handle = await kt.client.start(AlbumWorkflow, { albumId: 'mixed', photos: ['x.jpg', 'notes.txt'] });
  const result = await handle.result({ timeout: '10s' });
  expect(result).toEqual({
    albumId: 'mixed',
    url: 'https://example.test/albums/mixed?n=1',
    thumbnails: ['x-320w.jpg'],
    failed: [{ photo: 'notes.txt', code: 'NOT_JPEG', message: 'notes.txt: not a JPEG' }],
  });
  const run = await kt.client.getRun(handle.runId);
  expect(run.children.map((c) => c.status).sort()).toEqual(['COMPLETED', 'FAILED']);
  // the replay rebuilds the child's failure from storage: the same branch is taken
  await expect(replayRun(AlbumWorkflow, await kt.client.exportRun(handle.runId))).resolves.toEqual(result);
});
