/**
 * Text that came from a peer (a refusal reason, a complaint's reason) is
 * made safe before it reaches a log line or a hook's argv: control, format
 * (bidi overrides, zero-width), separator and unpaired surrogate characters
 * are shown as `\u{…}` escapes, and the text is cut to a short length, so
 * that a peer can neither forge log lines, reorder what an operator reads,
 * nor flood a log with one message.
 */

/** Longest peer text passed on, in code points (an ellipsis marks a cut). */
export const MAX_PEER_TEXT = 200;

const UNSAFE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/gu;

/** `text` with unsafe characters escaped and cut to `max` code points. */
export function printable(text: string, max: number = MAX_PEER_TEXT): string {
  const points = [...text.replace(UNSAFE, (c) => `\\u{${c.codePointAt(0)!.toString(16)}}`)];
  return points.length <= max ? points.join("") : `${points.slice(0, max).join("")}…`;
}
