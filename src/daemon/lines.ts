/**
 * Splitting a byte stream into text lines with a bounded buffer, shared by the
 * hook runner (hook output) and the guard (its command channel).
 */

/** Bytes read at a time from a byte stream, by default (hook output comes in short lines). */
export const READ_CHUNK_BYTES = 4096;

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
  chunkBytes = READ_CHUNK_BYTES,
): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let partial = "";
  // After a cut, discard input until the end of that line.
  let skipping = false;
  for await (const chunk of chunksOf(stream, chunkBytes)) {
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

/**
 * The chunks of `stream`, read into one small buffer of our own when it is a
 * byte stream (a child's stdout or stderr, stdin). A default reader makes each
 * pending read allocate 64 KiB: a thousand hooks running at once held 128 MB
 * of buffers for two pipes each, which the allocator kept afterwards. Each
 * chunk is valid until the next one is asked for.
 */
async function* chunksOf(
  stream: ReadableStream<Uint8Array>,
  chunkBytes: number,
): AsyncGenerator<Uint8Array> {
  let reader: ReadableStreamBYOBReader;
  try {
    reader = stream.getReader({ mode: "byob" });
  } catch {
    yield* stream; // not a byte stream
    return;
  }
  let done = false;
  try {
    let buffer = new Uint8Array(chunkBytes);
    for (;;) {
      const r = await reader.read(buffer);
      if (r.done) {
        done = true;
        return;
      }
      yield r.value;
      // The read took the buffer over; the chunk's own buffer is the one to use again.
      buffer = new Uint8Array(r.value.buffer);
    }
  } finally {
    // Left early (the consumer stopped): the stream is not read any further.
    if (!done) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}
