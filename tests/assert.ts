/** Minimal assertions (jsr:@std/assert cannot be reached from here). */

/** Structural equality with a readable diff in the message. */
export function assertEquals<T>(actual: T, expected: T, msg?: string): void {
  const a = JSON.stringify(actual, replacer, 2);
  const e = JSON.stringify(expected, replacer, 2);
  if (a !== e) {
    throw new Error(
      `${msg ? msg + "\n" : ""}Values are not equal.\nactual:   ${a}\nexpected: ${e}`,
    );
  }
}

function replacer(_k: string, v: unknown) {
  if (v instanceof Map) return { __map: [...v.entries()] };
  if (v instanceof Set) return { __set: [...v] };
  if (typeof v === "bigint") return `${v}n`;
  return v;
}

/** Assert a condition. */
export function assert(cond: unknown, msg = "assertion failed"): asserts cond {
  if (!cond) throw new Error(msg);
}

/** Assert that `text` contains `part`. */
export function assertStringIncludes(text: string, part: string, msg?: string): void {
  if (!text.includes(part)) {
    throw new Error(
      `${msg ? msg + "\n" : ""}Expected text to include ${JSON.stringify(part)}:\n${text}`,
    );
  }
}

/** Assert that `fn` throws (or rejects) with a message containing `includes`. */
export async function assertRejects(fn: () => unknown, includes?: string): Promise<Error> {
  try {
    await fn();
  } catch (e) {
    const err = e as Error;
    if (includes && !String(err?.message).includes(includes)) {
      throw new Error(`Expected error including ${JSON.stringify(includes)}, got: ${err?.message}`);
    }
    return err;
  }
  throw new Error("Expected function to throw");
}

/** Assert that `fn` throws (an instance of `type`, with `part` in its message); returns the error. */
export function assertThrows(
  fn: () => unknown,
  type: new (...args: never[]) => Error = Error,
  part?: string,
): Error {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof type)) throw new Error(`expected a ${type.name}, got ${e}`);
    if (part !== undefined && !e.message.includes(part)) {
      throw new Error(`expected the error to include ${JSON.stringify(part)}: ${e.message}`);
    }
    return e;
  }
  throw new Error("expected the function to throw");
}
