import { assert, assertEquals, assertStringIncludes } from "../../tests/assert.ts";
import { parseRequest } from "./request.ts";

Deno.test("request: valid requests come out typed, optional fields only when given", () => {
  assertEquals(parseRequest({ v: 1, id: 0, type: "status" }), {
    ok: true,
    request: { v: 1, id: 0, type: "status" },
  });
  assertEquals(parseRequest({ v: 1, id: 7, type: "status", resources: ["web", "db"] }), {
    ok: true,
    request: { v: 1, id: 7, type: "status", resources: ["web", "db"] },
  });
  assertEquals(
    parseRequest({ v: 1, id: 8, type: "role", role: "primary", resources: "all", force: true }),
    {
      ok: true,
      request: { v: 1, id: 8, type: "role", role: "primary", resources: "all", force: true },
    },
  );
  assertEquals(parseRequest({ v: 1, id: 9, type: "events", follow: false, limit: 0 }), {
    ok: true,
    request: { v: 1, id: 9, type: "events", follow: false, limit: 0 },
  });
});

Deno.test("request: unknown extra fields are ignored, not passed on", () => {
  assertEquals(parseRequest({ v: 1, id: 3, type: "events", colour: "blue" }), {
    ok: true,
    request: { v: 1, id: 3, type: "events" },
  });
});

Deno.test("request: an error keeps a usable id and says which field is wrong", () => {
  assertEquals(parseRequest({ v: 1, id: 5, type: "role", role: "primary", resources: [] }), {
    ok: false,
    id: 5,
    code: "bad_request",
    message: "`resources` must not be empty",
  });
  assertEquals(parseRequest({ v: 1, id: 2 ** 60, type: "status" }), {
    ok: false,
    id: 0,
    code: "bad_request",
    message: "`id` must be a whole number ≥ 0",
  });
  assertEquals(parseRequest({ v: 1, id: 4, type: "status", resources: ["x".repeat(257)] }), {
    ok: false,
    id: 4,
    code: "bad_request",
    message: "`resources` must hold non-empty names of at most 256 characters",
  });
});

Deno.test("request: a huge unknown type or version is named in a short message", () => {
  // Each refusal is logged: echoed whole, a client's 1 MiB requests wrote 1 MB log lines and the
  // daemon's record of recent lines grew by megabytes a request, until it died out of memory.
  const huge = "x".repeat(1_000_000);
  for (
    const body of [{ v: 1, id: 1, type: huge }, { v: [huge, { huge }], id: 1, type: "status" }]
  ) {
    const parsed = parseRequest(body);
    if (parsed.ok) throw new Error("accepted");
    assert(parsed.message.length < 400, `a message of ${parsed.message.length} chars`);
    assertStringIncludes(parsed.message, '"xxxxxxxx');
  }
  assertEquals(
    parseRequest({ v: 1, id: 1, type: "reboot\u202e" }),
    {
      ok: false,
      id: 1,
      code: "unsupported",
      message: 'unknown request type "reboot\\u{202e}" ' +
        "(this daemon knows status, role, events, scha, setstatus)",
    },
  );
});
