import { StepError, Workflow, WorkflowContext } from '@kagzi/nestjs';
import { ImagesService } from './images.service';
import { ThumbnailWorkflow } from './thumbnail.workflow';

export interface AlbumResult {
  albumId: string;
  url: string;
  thumbnails: string[];
  failed: { photo: string; code?: string; message: string }[];
}

/** The parent: fans out one child run per photo and joins them; it holds no worker slot while it waits. */
@Workflow({ name: 'example-album' })
export class AlbumWorkflow {
  constructor(private readonly images: ImagesService) {}

  async run(input: { albumId: string; photos: string[] }, ctx: WorkflowContext): Promise<AlbumResult> {
    const outcomes = await ctx.parallel(
      input.photos.map((photo) => () => ctx.executeChild(ThumbnailWorkflow, { photo })),
      { strategy: 'collect-all' }, // one bad photo does not sink the album
    );
    const thumbnails: string[] = [];
    const failed: AlbumResult['failed'] = [];
    outcomes.forEach((outcome, i) => {
      if (outcome.status === 'fulfilled') {
        thumbnails.push(outcome.value.small);
        return;
      }
      // A failed child rejects executeChild with a ChildWorkflowFailedError (code KAGZI_CHILD_WORKFLOW_FAILED)
      // whose cause is the child's own error. Read the code and the cause, which a replay rebuilds the same.
      const { error } = outcome;
      const childError = error.code === 'KAGZI_CHILD_WORKFLOW_FAILED' && error.cause instanceof StepError ? error.cause : error;
      failed.push({ photo: input.photos[i], code: childError.code, message: childError.message });
    });
    const url = await this.images.publishAlbum(input.albumId, thumbnails);
    return { albumId: input.albumId, url, thumbnails, failed };
  }
}
