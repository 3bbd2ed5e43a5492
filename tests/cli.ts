/** Running `hastmon` as a user does, for the CLI tests: a subprocess of main.ts. */
import { assertEquals } from "./assert.ts";

const ROOT = new URL("../", import.meta.url);

/** What a run printed and how it ended. */
export interface Run {
  code: number;
  out: string;
  err: string;
}

/** The caller's environment without any HASTMON_* variable, with NO_COLOR=1 and `env`. */
function cleanEnv(env: Record<string, string>): Record<string, string> {
  const base = Object.fromEntries(
    Object.entries(Deno.env.toObject()).filter(([k]) => !k.startsWith("HASTMON_")),
  );
  return { ...base, NO_COLOR: "1", ...env };
}

/** The command `hastmon ARGS`, run from the repository root. */
export function hastmonCommand(
  args: string[],
  env: Record<string, string> = {},
  stdout: "piped" | "null" = "piped",
): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", "main.ts", ...args],
    cwd: ROOT,
    env: cleanEnv(env),
    clearEnv: true,
    stdin: "null",
    stdout,
    stderr: "piped",
  });
}

/** Run `hastmon ARGS` to its end. */
export async function hastmon(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const { code, stdout, stderr } = await hastmonCommand(args, env).output();
  const dec = new TextDecoder();
  return { code, out: dec.decode(stdout), err: dec.decode(stderr) };
}

/** Compare `actual` with the snapshot `dir/name`, or write it when UPDATE_SNAPSHOTS=1. */
export async function assertSnapshot(dir: URL, name: string, actual: string): Promise<void> {
  const url = new URL(name, dir);
  if (Deno.env.get("UPDATE_SNAPSHOTS") === "1") {
    await Deno.mkdir(dir, { recursive: true });
    await Deno.writeTextFile(url, actual);
    return;
  }
  let expected: string;
  try {
    expected = await Deno.readTextFile(url);
  } catch {
    throw new Error(`no snapshot ${name}: run with UPDATE_SNAPSHOTS=1 to create it`);
  }
  assertEquals(actual, expected, `snapshot ${name} differs (UPDATE_SNAPSHOTS=1 rewrites it)`);
}

/** A child's output as it comes, read in the background, with a wait for a text. */
export function reader(stream: ReadableStream<Uint8Array>) {
  let seen = "";
  let ended = false;
  const done = (async () => {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) seen += chunk;
    ended = true;
  })();
  return {
    text: () => seen,
    done,
    async waitFor(text: string, ms = 10_000) {
      const end = Date.now() + ms;
      while (!seen.includes(text)) {
        if (ended || Date.now() > end) {
          throw new Error(
            `no ${JSON.stringify(text)} ${ended ? "before the end" : "in time"}:\n${seen}`,
          );
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    },
  };
}
