import { Controller, Get, Header, NotFoundException, Param, Req, StreamableFile, UseFilters, UseGuards } from '@nestjs/common';
import { DashboardAsset, loadDashboardAssets } from './dashboard-assets';
import { DashboardErrorsFilter } from './dashboard-errors.filter';
import { DashboardGuard } from './dashboard.guard';

/**
 * The UI: `{path}` is its page, `{path}/assets/<file>` its scripts and styles, all served from the
 * package (nothing from a CDN). The page gets a `<base href>` of the URL it was asked at (with a global
 * prefix or a proxy path included), so its relative URLs resolve with or without a trailing slash.
 */
@Controller()
@UseGuards(DashboardGuard)
@UseFilters(DashboardErrorsFilter)
export class DashboardUiController {
  private readonly assets = loadDashboardAssets();

  @Get()
  @Header('cache-control', 'no-cache')
  page(@Req() request: { url?: string; originalUrl?: string }): StreamableFile {
    const path = (request.originalUrl ?? request.url ?? '/').split('?', 1)[0];
    const base = escapeAttribute(path.endsWith('/') ? path : `${path}/`);
    const html = this.find('index.html').body.toString('utf8').replace(/<head>/i, `<head>\n    <base href="${base}">`);
    const body = Buffer.from(html, 'utf8');
    return new StreamableFile(body, { type: 'text/html; charset=utf-8', length: body.length });
  }

  @Get('assets/:file')
  @Header('cache-control', 'no-cache')
  asset(@Param('file') name: string): StreamableFile {
    const asset = this.find(name);
    return new StreamableFile(asset.body, { type: asset.type, length: asset.body.length });
  }

  /** Only the files found at boot, by exact name: a request's path never reaches the file system. */
  private find(name: string): DashboardAsset {
    const asset = this.assets.get(name);
    if (!asset) throw new NotFoundException({ code: 'KAGZI_NOT_FOUND', message: `The dashboard has no file "${name}"` });
    return asset;
  }
}

function escapeAttribute(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
