import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import { KagziError } from '../errors/kagzi.error';

/** Kagzi's error codes as HTTP statuses (the dashboard answers 400, 403, 404 or 409; anything else is a 500). */
const STATUS_OF: Record<string, number> = {
  KAGZI_INVALID_OPTIONS: HttpStatus.BAD_REQUEST,
  KAGZI_USAGE: HttpStatus.BAD_REQUEST,
  KAGZI_PAYLOAD_TOO_LARGE: HttpStatus.BAD_REQUEST,
  KAGZI_UNSERIALIZABLE_VALUE: HttpStatus.BAD_REQUEST,
  KAGZI_RUN_NOT_FOUND: HttpStatus.NOT_FOUND,
  KAGZI_WORKFLOW_NOT_FOUND: HttpStatus.NOT_FOUND,
  KAGZI_VERSION_NOT_FOUND: HttpStatus.NOT_FOUND,
  KAGZI_RUN_NOT_ACTIVE: HttpStatus.CONFLICT,
  KAGZI_RUN_NOT_RETRYABLE: HttpStatus.CONFLICT,
  KAGZI_DEFAULT_VERSION: HttpStatus.CONFLICT,
  KAGZI_VERSION_DEPRECATED: HttpStatus.CONFLICT,
  KAGZI_DATABASE_UNAVAILABLE: HttpStatus.SERVICE_UNAVAILABLE,
};

const CODE_OF_STATUS: Record<number, string> = {
  [HttpStatus.BAD_REQUEST]: 'KAGZI_BAD_REQUEST',
  [HttpStatus.FORBIDDEN]: 'KAGZI_FORBIDDEN',
  [HttpStatus.NOT_FOUND]: 'KAGZI_NOT_FOUND',
};

/** Every error of a dashboard route as JSON `{ code, message }` with its status. */
@Catch()
export class DashboardErrorsFilter implements ExceptionFilter {
  private readonly logger = new Logger('KagziDashboard');

  catch(exception: unknown, host: ArgumentsHost): void {
    const response = host.switchToHttp().getResponse<{ status(code: number): { json(body: unknown): void } }>();
    const { status, body } = this.describe(exception);
    response.status(status).json(body);
  }

  private describe(exception: unknown): { status: number; body: { code: string; message: string } } {
    if (exception instanceof KagziError) {
      return { status: STATUS_OF[exception.code] ?? HttpStatus.INTERNAL_SERVER_ERROR, body: { code: exception.code, message: exception.message } };
    }
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const answer = exception.getResponse() as string | { code?: unknown; message?: unknown };
      const code = typeof answer === 'object' && typeof answer.code === 'string' ? answer.code : (CODE_OF_STATUS[status] ?? `KAGZI_HTTP_${status}`);
      const message = typeof answer === 'string' ? answer : Array.isArray(answer.message) ? answer.message.join('; ') : String(answer.message ?? exception.message);
      return { status, body: { code, message } };
    }
    this.logger.error(`A dashboard request failed: ${exception instanceof Error ? (exception.stack ?? exception.message) : String(exception)}`);
    return { status: HttpStatus.INTERNAL_SERVER_ERROR, body: { code: 'KAGZI_INTERNAL', message: 'The dashboard could not answer; the server log has the details' } };
  }
}
