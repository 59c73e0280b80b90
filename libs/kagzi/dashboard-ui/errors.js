// A stored step error (SerializedStepError): kind, code, message, where it happened, its cause chain, stack.
import { h, json, time } from './dom.js';

/** Links of a cause chain shown at most (the library stores a bounded chain anyway). */
const MAX_CAUSES = 10;

/**
 * The error as a block: `KIND code` badges, the class and message, the step and attempt, then each
 * `cause` link. `compact` (inside an attempts table) leaves out the stack and context.
 */
export function errorBlock(error, { compact = false, testid = compact ? 'attempt-error' : 'error' } = {}) {
  if (!error || typeof error !== 'object') return h('span', { class: 'muted' }, String(error));
  const causes = [];
  for (let c = error.cause, n = 0; c && typeof c === 'object' && n < MAX_CAUSES; c = c.cause, n++) causes.push(c);
  return h(
    'div',
    { class: compact ? 'error compact' : 'error', testid },
    h(
      'p',
      { class: 'error-head' },
      h('span', { class: 'badge kind', testid: 'error-kind' }, error.kind ?? 'UNKNOWN'),
      error.code ? h('span', { class: 'badge code', testid: 'error-code' }, error.code) : null,
      error.retryable === false ? h('span', { class: 'badge muted-badge' }, 'not retryable') : null,
      ' ',
      h('strong', {}, error.name ?? 'Error'),
      ': ',
      h('span', { class: 'error-message', testid: 'error-message' }, error.message ?? ''),
    ),
    !compact && (error.stepName || error.occurredAt)
      ? h(
          'p',
          { class: 'muted error-where' },
          error.stepName ? [`in `, h('code', {}, error.stepName), error.attempt ? `, attempt ${error.attempt}` : '', ' '] : '',
          error.occurredAt ? time(error.occurredAt) : null,
          error.retryAfterMs !== undefined ? ` · retry after ${error.retryAfterMs} ms` : '',
        )
      : null,
    causes.length
      ? h(
          'ol',
          { class: 'causes', testid: 'cause-chain', 'aria-label': 'Cause chain' },
          causes.map((c) =>
            h(
              'li',
              { testid: 'cause' },
              'caused by ',
              c.kind ? h('span', { class: 'badge kind' }, c.kind) : null,
              c.code ? h('span', { class: 'badge code' }, c.code) : null,
              ' ',
              h('strong', {}, c.name ?? 'Error'),
              ': ',
              c.message ?? '',
            ),
          ),
        )
      : null,
    !compact && error.context ? h('details', {}, h('summary', {}, 'context'), json(error.context)) : null,
    !compact && error.stack ? h('details', {}, h('summary', {}, 'stack'), h('pre', { class: 'stack', tabindex: '0' }, stackWithCauses(error))) : null,
  );
}

function stackWithCauses(error) {
  const parts = [error.stack];
  for (let c = error.cause, n = 0; c && n < MAX_CAUSES; c = c.cause, n++) if (c.stack) parts.push(`Caused by: ${c.stack}`);
  return parts.join('\n');
}

/** "BUSINESS_LOGIC_ERROR CARD_DECLINED: card declined" on one line. */
export function errorLine(error) {
  if (!error) return '';
  return `${error.kind ?? 'UNKNOWN'}${error.code ? ` ${error.code}` : ''}: ${error.message ?? ''}`;
}
