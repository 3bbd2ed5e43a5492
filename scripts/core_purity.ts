/**
 * The purity rules of ARCHITECTURE.md: files in src/core/ import only each
 * other, files in src/runtime/ only each other, src/core/ and src/lib/; and
 * neither touches Deno, timers or the clock. Used by a test.
 */

const FORBIDDEN: [RegExp, string][] = [
  [/\bDeno\./, "Deno."],
  [/\bsetTimeout\b/, "setTimeout"],
  [/\bsetInterval\b/, "setInterval"],
  [/\bDate\.now\b/, "Date.now"],
  [/\bnew Date\(/, "new Date("],
  [/\bperformance\.now\b/, "performance.now"],
  [/\bMath\.random\b/, "Math.random"],
  [/\bprocess\./, "process."],
];

/**
 * Return one line per violation, `file:line: what`, for the directory `dir`
 * (recursively). `siblings` are the directories beside `dir` it may import
 * from (e.g. `["core", "lib"]` for src/runtime).
 */
export async function checkCorePurity(
  dir: string,
  siblings: readonly string[] = [],
): Promise<string[]> {
  const problems: string[] = [];
  const walk = async (sub: string) => {
    for await (const entry of Deno.readDir(`${dir}/${sub}`)) {
      const rel = sub ? `${sub}/${entry.name}` : entry.name;
      if (entry.isDirectory) await walk(rel);
      else if (/\.tsx?$/.test(entry.name) && !/(_test\.tsx?|^test_helpers\.ts)$/.test(entry.name)) {
        check(rel, await Deno.readTextFile(`${dir}/${rel}`));
      }
    }
  };
  const check = (rel: string, text: string) => {
    const depth = rel.split("/").length - 1;
    text.split("\n").forEach((line, i) => {
      const code = line.replace(/\/\/.*$/, "");
      for (const m of code.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)["']([^"']+)["']/g)) {
        const spec = m[1];
        const up = spec.match(/^(\.\.\/)+/)?.[0].length ?? 0;
        const sibling = up / 3 === depth + 1 &&
          siblings.some((d) => spec.slice(up).startsWith(`${d}/`));
        const escapes = !spec.startsWith(".") || (up / 3 > depth && !sibling);
        if (escapes) problems.push(`${rel}:${i + 1}: imports ${spec}, outside its layer`);
      }
      for (const [re, what] of FORBIDDEN) {
        if (re.test(code)) problems.push(`${rel}:${i + 1}: uses ${what}`);
      }
    });
  };
  await walk("");
  return problems;
}
