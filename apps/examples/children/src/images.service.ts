import { Injectable } from '@nestjs/common';
import { ErrorKind, PermanentError, Step } from '@kagzi/nestjs';

@Injectable()
export class ImagesService {
  readonly resized: string[] = [];

  @Step()
  async resize(photo: string, width: number): Promise<string> {
    if (!photo.endsWith('.jpg')) throw new PermanentError(`${photo}: not a JPEG`, { kind: ErrorKind.InvalidInput, code: 'NOT_JPEG' });
    this.resized.push(photo);
    return photo.replace(/\.jpg$/, `-${width}w.jpg`);
  }

  @Step()
  async publishAlbum(albumId: string, thumbnails: string[]): Promise<string> {
    return `https://example.test/albums/${albumId}?n=${thumbnails.length}`;
  }
}
