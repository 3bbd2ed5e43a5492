import { assertEquals } from "../../tests/assert.ts";
import { formatGiveoverPlan, localClock, schaErrName, schaJson } from "./format_scha.ts";

const NOW = Date.UTC(2026, 10, 25, 12, 7, 0);
const utc = (ms: number) => new Date(ms).toISOString().slice(11, 16);

Deno.test("format scha: SCHA_ERR names, and a number the table lacks", () => {
  assertEquals(
    [0, 3, 4, 5, 9, 12, 14, 16, 17, 18].map(schaErrName),
    [
      "SCHA_ERR_NOERR",
      "SCHA_ERR_INVAL",
      "SCHA_ERR_TAG",
      "SCHA_ERR_RECONF",
      "SCHA_ERR_STATE",
      "SCHA_ERR_RG",
      "SCHA_ERR_RSRC",
      "SCHA_ERR_CHECKS",
      "SCHA_ERR_RSTATUS",
      "SCHA_ERR_INTERNAL",
    ],
  );
  assertEquals(schaErrName(42), "SCHA_ERR_? (42)");
});

Deno.test("format scha: the plan names the target, the eligible, and what blocks the others (pingpong in local time and time left)", () => {
  const until = NOW + 58 * 60_000 + 12_000;
  const text = formatGiveoverPlan(
    {
      target: "beta",
      nodes: [
        { node: "beta", blocked: null },
        { node: "delta", blocked: null },
        {
          node: "gamma",
          blocked: "pingpong: a giveover by db moved the group off it; blocked for 58m12s more " +
            "(until 13:05 UTC)",
          untilWallMs: until,
        },
        { node: "w", blocked: "a watchdog of this group" },
        { node: "eps", blocked: "not connected", untilWallMs: until },
        { node: "zeta", blocked: "veto: member db: monitor_check exited 1: no disk\nat all" },
      ],
    },
    NOW,
    utc,
  );
  assertEquals(
    text,
    [
      "target: beta",
      "  beta   target",
      "  delta  eligible (after beta)",
      "  gamma  blocked: pingpong: a giveover by db moved the group off it, until 13:05 (in 58m12s)",
      "  w      blocked: a watchdog of this group",
      "  eps    blocked: not connected; pingpong mark until 13:05 (in 58m12s)",
      "  zeta   blocked: veto: member db: monitor_check exited 1: no disk\\x0aat all",
      "",
    ].join("\n"),
  );
  assertEquals(
    formatGiveoverPlan({ target: null, nodes: [] }, NOW, utc),
    "target: none (no node may take the group)\n",
  );
});

Deno.test("format scha: the local clock is two-digit hours and minutes", () => {
  const at = Date.UTC(2026, 0, 1, 9, 5);
  const hours = String(new Date(at).getHours()).padStart(2, "0");
  const minutes = String(new Date(at).getMinutes()).padStart(2, "0");
  assertEquals(localClock(at), `${hours}:${minutes}`);
  assertEquals(localClock(at).length, 5);
});

Deno.test("format scha: the JSON of an answer carries the number, its name and the plan with ISO times", () => {
  assertEquals(
    schaJson({
      code: 16,
      message: "no node may take the group",
      plan: { target: null, nodes: [{ node: "b", blocked: "pingpong", untilWallMs: NOW }] },
    }),
    {
      code: 16,
      error: "SCHA_ERR_CHECKS",
      message: "no node may take the group",
      plan: {
        target: null,
        nodes: [{ node: "b", blocked: "pingpong", until: "2026-11-25T12:07:00.000Z" }],
      },
    },
  );
  assertEquals(schaJson({ code: 0, message: "web is ONLINE on a" }), {
    code: 0,
    error: "SCHA_ERR_NOERR",
    message: "web is ONLINE on a",
  });
});
