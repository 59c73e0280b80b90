/**
 * How much of an error is stored, in characters (JavaScript string length). A stored error is
 * written to three jsonb columns and returned by every getRun(), so each part is capped.
 */
export const STORED_ERROR_LIMITS = {
  /** `message` of the error and of each link of its cause chain. */
  message: 8_192,
  /** `stack` of the error and of each link of its cause chain. */
  stack: 16_384,
  /** `name`, `code` and `stepName`. */
  label: 1_024,
  /** One string inside `context`. */
  contextString: 2_048,
  /** All of `context`, measured as JSON text. */
  context: 16_384,
  /** Objects inside `context` nested deeper than this are replaced by a note. */
  contextDepth: 20,
} as const;

const NUL = String.fromCharCode(0);
// A lone surrogate is valid in a JavaScript string but not in the UTF-8 text PostgreSQL stores.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * `text` as PostgreSQL jsonb accepts it: NUL (which jsonb rejects with SQLSTATE 22P05) written as
 * the six characters `\u0000`, lone surrogates replaced by U+FFFD, and cut to `max` characters
 * (the last ones a note of the original length). NUL escaping can lengthen a text past `max`.
 */
export function storableText(text: string, max: number): string {
  let out = text;
  if (out.length > max) {
    // The note counts towards `max`, so cleaning a cleaned text again changes nothing.
    const note = `… [truncated: ${text.length} characters in all]`;
    let end = Math.max(0, max - note.length);
    // Never cut a surrogate pair in half.
    if (end > 0 && isHighSurrogate(out.charCodeAt(end - 1))) end--;
    out = `${out.slice(0, end)}${note}`;
  }
  if (out.includes(NUL)) out = out.replaceAll(NUL, '\\u0000');
  return out.replace(LONE_SURROGATE, '\uFFFD');
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}
