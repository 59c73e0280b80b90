import { Workflow, WorkflowContext } from '@kagzi/nestjs';
import { ImagesService } from './images.service';

/** The child: one photo. A run of its own, on any worker that serves it, with its own history and retries. */
@Workflow({ name: 'example-thumbnail' })
export class ThumbnailWorkflow {
  constructor(private readonly images: ImagesService) {}

  async run(input: { photo: string }, _ctx: WorkflowContext): Promise<{ small: string; large: string }> {
    const small = await this.images.resize(input.photo, 320);
    const large = await this.images.resize(input.photo, 1280);
    return { small, large };
  }
}
