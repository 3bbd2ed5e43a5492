/**
 * Splitting a byte stream into text lines with a bounded buffer, shared by the
 * hook runner (hook output) and the guard (its command channel).
 */

/** Appended to a line that was cut at the length bound. */
export const TRUNCATED_MARK = " …[truncated]";

/**
 * Yield the lines of `stream` (without their `\n`). A line longer than
 * `maxLineChars` is cut there, marked with {@link TRUNCATED_MARK}, and the rest
 * of it up to the next newline is dropped: memory stays bounded whatever the
 * writer does. A last line without a newline is yielded at the end.
 */
export async function* readLines(
  stream: ReadableStream<Uint8Array>,
  maxLineChars: number,
): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let partial = "";
  // After a cut, discard input until the end of that line.
  let skipping = false;
  for await (const chunk of stream) {
    let text = decoder.decode(chunk, { stream: true });
    while (text.length > 0) {
      const nl = text.indexOf("\n");
      const piece = nl < 0 ? text : text.slice(0, nl);
      text = nl < 0 ? "" : text.slice(nl + 1);
      if (!skipping) partial += piece;
      if (partial.length > maxLineChars) {
        yield partial.slice(0, maxLineChars) + TRUNCATED_MARK;
        partial = "";
        skipping = nl < 0;
        continue;
      }
      if (nl >= 0) {
        if (!skipping) yield partial;
        partial = "";
        skipping = false;
      }
    }
  }
  partial += decoder.decode();
  if (partial.length > 0 && !skipping) yield partial;
}
