/** Where the command line writes: standard output and error, replaceable in tests. */

/** Output sinks, replaceable in tests. */
export interface CliIO {
  out: (s: string) => void;
  err: (s: string) => void;
}

/** Write all of `s`; a reader that went away (`| head`) is not an error. */
function writeAll(w: { writeSync(b: Uint8Array): number }, s: string) {
  const bytes = new TextEncoder().encode(s);
  try {
    for (let off = 0; off < bytes.length;) off += w.writeSync(bytes.subarray(off));
  } catch (e) {
    if (!(e instanceof Deno.errors.BrokenPipe)) throw e;
  }
}

/** Standard output and standard error. */
export const stdIO: CliIO = {
  out: (s) => writeAll(Deno.stdout, s),
  err: (s) => writeAll(Deno.stderr, s),
};
