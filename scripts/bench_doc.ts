/**
 * docs/BENCHMARKS.md is written by several benchmark scripts. bench_failover
 * owns everything above {@link KEEP_MARKER}; below it, each other script owns
 * one section between `<!-- section NAME -->` and `<!-- end NAME -->`, and
 * replaces only that.
 */

/** Where the part of docs/BENCHMARKS.md written by other scripts begins. */
export const KEEP_MARKER = "<!-- written by other benchmark scripts; kept by bench_failover -->";

/** The path of docs/BENCHMARKS.md. */
export const BENCHMARKS_MD = new URL("../docs/BENCHMARKS.md", import.meta.url).pathname;

/**
 * `text` with section `name` set to `body`: in place when it is there, else
 * appended below the marker. A section written before markers existed (its
 * heading `heading` right below the marker, up to the next marker or the
 * end) is replaced as well.
 */
export function replaceSection(text: string, name: string, body: string, heading?: string): string {
  const begin = `<!-- section ${name} -->`;
  const end = `<!-- end ${name} -->`;
  const block = `${begin}\n\n${body.trim()}\n\n${end}\n`;
  const b = text.indexOf(begin);
  const e = text.indexOf(end);
  if (b >= 0 && e > b) {
    return text.slice(0, b) + block + text.slice(e + end.length).replace(/^\n/, "");
  }
  let base = text.includes(KEEP_MARKER) ? text : `${text.trimEnd()}\n\n${KEEP_MARKER}\n`;
  if (heading) {
    const k = base.indexOf(KEEP_MARKER) + KEEP_MARKER.length;
    const after = base.slice(k);
    const h = after.indexOf(`\n${heading}\n`);
    if (h >= 0 && after.slice(0, h).trim() === "") {
      const next = after.indexOf("<!-- section ", h);
      base = base.slice(0, k) + "\n" + (next >= 0 ? after.slice(next) : "");
    }
  }
  return `${base.trimEnd()}\n\n${block}`;
}

/** Replace section `name` of docs/BENCHMARKS.md, then format it as `deno fmt` would. */
export async function writeSection(name: string, body: string, heading?: string): Promise<void> {
  const text = await Deno.readTextFile(BENCHMARKS_MD).catch(() => "# Benchmarks\n");
  await Deno.writeTextFile(BENCHMARKS_MD, replaceSection(text, name, body, heading));
  await new Deno.Command(Deno.execPath(), {
    args: ["fmt", "-q", "--line-width", "100", BENCHMARKS_MD],
  }).output();
}
