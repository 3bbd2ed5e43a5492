import { emptyPolicy } from "../core/policy.ts";
import { assertEquals, assertStringIncludes, assertThrows } from "../../tests/assert.ts";
import type { PersistedState } from "../core/types.ts";
import { encodeState, lostState, parseState } from "./state_file.ts";

const granter: PersistedState = {
  role: "secondary",
  epoch: 3,
  maxEpoch: 5,
  grantHolder: { node: "nodeA", epoch: 5, priority: 100 },
  grantHoldMs: 12_345,
  policy: emptyPolicy(),
};

Deno.test("state file: what is written reads back the same, the grant's hold included", () => {
  const text = encodeState("a/b c", granter);
  assertEquals(parseState(text, "a/b c"), granter);
  // The hold a restarted granter honours comes from the file (it used to be dropped).
  assertEquals(JSON.parse(text).grantHoldMs, 12_345);
  const fresh: PersistedState = { ...granter, grantHolder: null, grantHoldMs: null };
  assertEquals(parseState(encodeState("web", fresh), "web"), fresh);
});

Deno.test("state file: an invalid state is refused before anything is written", () => {
  assertThrows(() => encodeState("web", { ...granter, maxEpoch: 1 }), Error, "below epoch");
  assertThrows(() => encodeState("web", { ...granter, epoch: 2 ** 53 }), Error, "bad epoch");
  assertThrows(() => encodeState("web", { ...granter, grantHoldMs: -1 }), Error, "grantHoldMs");
});

Deno.test("state file: corrupt, foreign or unknown-version texts are refused with the reason", () => {
  const valid = {
    version: 2,
    role: "primary",
    epoch: 3,
    maxEpoch: 3,
    grantHolder: null,
    grantHoldMs: null,
    policy: emptyPolicy(),
  };
  const file = (resource: string, fields: Record<string, unknown>) =>
    JSON.stringify({ ...valid, resource, ...fields });
  const cases: [string, string, string][] = [
    ["truncated", '{"version":1,"resource":"truncated","role":"prim', "not JSON"],
    ["array", "[1,2]", "not a JSON object"],
    ["future", file("future", { version: 3 }), "unsupported version 3 (expected 2)"],
    ["policy", file("policy", { policy: { restarts: { db: ["x"] } } }), "bad policy"],
    ["unversioned", file("unversioned", { version: undefined }), "unsupported version undefined"],
    ["moved", file("elsewhere", {}), 'holds resource "elsewhere", expected "moved"'],
    ["role", file("role", { role: "boss" }), 'bad role "boss"'],
    ["epoch", file("epoch", { epoch: -1 }), "bad epoch -1"],
    ["huge", file("huge", { epoch: 2 ** 52 + 2, maxEpoch: 2 ** 52 + 2 }), "bad epoch"],
    ["fraction", file("fraction", { epoch: 1.5 }), "bad epoch 1.5"],
    ["lowmax", file("lowmax", { maxEpoch: 2 }), "maxEpoch 2 is below epoch 3"],
    [
      "holder",
      file("holder", { grantHolder: { node: "b", epoch: "5", priority: 1 } }),
      "bad grantHolder",
    ],
    ["hold", file("hold", { grantHoldMs: "long" }), "bad grantHoldMs"],
    // The state journal's mark for a state its damage may hide (and the simulator's).
    ["gone", lostState("gone", "line 3 of state.journal"), "lost: line 3 of state.journal"],
  ];
  for (const [name, text, reason] of cases) {
    const e = assertThrows(() => parseState(text, name));
    assertStringIncludes((e as Error).message, reason, name);
  }
});

Deno.test("state file: a version 1 file (before restart windows were kept) reads with an empty policy", () => {
  const v1 = JSON.stringify({
    version: 1,
    resource: "web",
    role: "secondary",
    epoch: 2,
    maxEpoch: 4,
    grantHolder: null,
    grantHoldMs: null,
  });
  assertEquals(parseState(v1, "web").policy, emptyPolicy());
  const kept = { ...granter, policy: { ...emptyPolicy(), groupRestarts: [1_767_225_600_000] } };
  assertEquals(parseState(encodeState("web", kept), "web").policy.groupRestarts, [
    1_767_225_600_000,
  ]);
});
