/**
 * Validation of control requests as they arrive: a frame body is untrusted
 * JSON, and only a request that passes here reaches the daemon's handler.
 * Unknown extra fields are ignored, so a newer client's optional additions
 * do not break an older daemon.
 */
import { type Role, ROLES } from "../core/types.ts";
import type { FrameBody } from "../wire/frame.ts";
import { MAX_PEER_TEXT, printable } from "../wire/text.ts";
import { CONTROL_VERSION, type ControlErrorCode, type ControlRequest } from "./protocol.ts";

/** The outcome of {@linkcode parseRequest}. */
export type ParsedRequest =
  | { ok: true; request: ControlRequest }
  | {
    ok: false;
    /** The request's id when it had a usable one, else 0. */
    id: number;
    code: Extract<ControlErrorCode, "bad_request" | "unsupported">;
    message: string;
  };

/** The request types this daemon knows, for messages. */
export const REQUEST_TYPES: readonly ControlRequest["type"][] = [
  "status",
  "role",
  "events",
  "scha",
  "setstatus",
];

// deno-lint-ignore no-control-regex
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;

/** Longest status message of scha_resource_setstatus -m (it ends up in status and logs). */
const MAX_MESSAGE_LENGTH = 1024;

/** Longest accepted resource name: a sanity bound, names come from the config. */
const MAX_NAME_LENGTH = 256;

/** Thrown inside the checkers below; turned into a `bad_request`. */
class Invalid extends Error {}

/**
 * Check that `body` is a well-formed request of a known type and version.
 * Never throws: anything a client sends yields either a request or an error.
 */
export function parseRequest(body: FrameBody): ParsedRequest {
  const id = isId(body.id) ? body.id : 0;
  const fail = (code: "bad_request" | "unsupported", message: string): ParsedRequest => ({
    ok: false,
    id,
    code,
    message,
  });
  if (!isId(body.id)) return fail("bad_request", "`id` must be a whole number ≥ 0");
  if (body.v !== CONTROL_VERSION) {
    return fail(
      "bad_request",
      `unsupported control protocol version ${shown(body.v)} ` +
        `(this daemon speaks ${CONTROL_VERSION})`,
    );
  }
  if (typeof body.type !== "string") return fail("bad_request", "`type` must be a string");
  try {
    switch (body.type) {
      case "status":
        return {
          ok: true,
          request: {
            v: 1,
            id,
            type: "status",
            ...optional("resources", names(body.resources, "resources", true)),
          },
        };
      case "role": {
        if (!(ROLES as readonly unknown[]).includes(body.role)) {
          throw new Invalid(`\`role\` must be one of ${ROLES.join(", ")}`);
        }
        const resources = body.resources === "all"
          ? "all"
          : names(body.resources, "resources", false)!;
        return {
          ok: true,
          request: {
            v: 1,
            id,
            type: "role",
            role: body.role as Role,
            resources,
            ...optional("force", flag(body.force, "force")),
            ...optional("to", nodeName(body.to)),
          },
        };
      }
      case "events":
        return {
          ok: true,
          request: {
            v: 1,
            id,
            type: "events",
            ...optional("follow", flag(body.follow, "follow")),
            ...optional("limit", count(body.limit, "limit")),
          },
        };
      case "scha":
        return {
          ok: true,
          request: {
            v: 1,
            id,
            type: "scha",
            group: word(body.group, "group")!,
            optag: word(body.optag, "optag")!,
            ...optional("member", word(body.member, "member", true)),
            ...optional("to", nodeName(body.to)),
          },
        };
      case "setstatus":
        return {
          ok: true,
          request: {
            v: 1,
            id,
            type: "setstatus",
            group: word(body.group, "group")!,
            member: word(body.member, "member")!,
            status: word(body.status, "status")!,
            ...optional("message", message(body.message)),
          },
        };
      default:
        return fail(
          "unsupported",
          `unknown request type ${shown(body.type)} (this daemon knows ${
            REQUEST_TYPES.join(", ")
          })`,
        );
    }
  } catch (e) {
    if (e instanceof Invalid) return fail("bad_request", e.message);
    throw e;
  }
}

/**
 * A client's value as an error names it, and the log keeps it: escaped and
 * cut short. Whole, a 1 MiB value made a 1 MB log line per request, and the
 * logger's memory of recent lines (for its repeat counts) grew until the
 * daemon died.
 */
function shown(v: unknown): string {
  const text = JSON.stringify(v) ?? String(v);
  return printable(text.slice(0, MAX_PEER_TEXT + 1));
}

function isId(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}

/** `{ key: value }`, or nothing when the value is absent (keeps requests minimal). */
function optional<K extends string, T>(key: K, value: T | undefined): { [k in K]?: T } {
  return value === undefined ? {} : { [key]: value } as { [k in K]: T };
}

function names(v: unknown, field: string, mayBeAbsent: boolean): string[] | undefined {
  if (v === undefined && mayBeAbsent) return undefined;
  if (!Array.isArray(v)) {
    throw new Invalid(
      `\`${field}\` must be ${mayBeAbsent ? "" : '"all" or '}a list of resource names`,
    );
  }
  // An empty list is refused rather than guessed at: "none" and "all" are both plausible.
  if (v.length === 0) throw new Invalid(`\`${field}\` must not be empty`);
  for (const name of v) {
    if (typeof name !== "string" || name === "" || name.length > MAX_NAME_LENGTH) {
      throw new Invalid(
        `\`${field}\` must hold non-empty names of at most ${MAX_NAME_LENGTH} characters`,
      );
    }
  }
  return v as string[];
}

/** A name-like field: non-empty, bounded, no control characters. */
function word(v: unknown, field: string, mayBeAbsent = false): string | undefined {
  if (v === undefined && mayBeAbsent) return undefined;
  if (
    typeof v !== "string" || v === "" || v.length > MAX_NAME_LENGTH || CONTROL_CHARS.test(v)
  ) {
    throw new Invalid(`\`${field}\` must be a name of at most ${MAX_NAME_LENGTH} characters`);
  }
  return v;
}

function message(v: unknown): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== "string" || v.length > MAX_MESSAGE_LENGTH) {
    throw new Invalid(`\`message\` must be a string of at most ${MAX_MESSAGE_LENGTH} characters`);
  }
  // Control characters would forge lines in logs and status: shown as spaces.
  return v.replace(new RegExp(CONTROL_CHARS.source, "g"), " ");
}

function nodeName(v: unknown): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== "string" || v === "" || v.length > MAX_NAME_LENGTH) {
    throw new Invalid(`\`to\` must be a node name of at most ${MAX_NAME_LENGTH} characters`);
  }
  return v;
}

function flag(v: unknown, field: string): boolean | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== "boolean") throw new Invalid(`\`${field}\` must be true or false`);
  return v;
}

function count(v: unknown, field: string): number | undefined {
  if (v === undefined) return undefined;
  if (!isId(v)) throw new Invalid(`\`${field}\` must be a whole number ≥ 0`);
  return v;
}
