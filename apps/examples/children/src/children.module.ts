import { Module } from '@nestjs/common';
import { AlbumWorkflow } from './album.workflow';
import { ImagesService } from './images.service';
import { ThumbnailWorkflow } from './thumbnail.workflow';

@Module({ providers: [ImagesService, ThumbnailWorkflow, AlbumWorkflow] })
export class ChildrenModule {}
