import { assertEquals } from "../../tests/assert.ts";
import { parseGetTag, RESOURCE_GET_TAG_NAMES, resourceGetText } from "./scha_get.ts";
import { memberStatus, primaryStatus } from "../control/test_helpers.ts";

Deno.test("scha_resource_get: tags in any case, with or without SCHA_; unknown ones are null", () => {
  assertEquals(parseGetTag("num_resource_restarts"), "NUM_RESOURCE_RESTARTS");
  assertEquals(parseGetTag("Scha_Retry_Count"), "RETRY_COUNT");
  assertEquals(parseGetTag("RETRY"), null);
  assertEquals(parseGetTag("EXTENSION"), null);
  assertEquals(parseGetTag("toString"), null);
});

Deno.test("scha_resource_get: each tag printed as Solaris prints it (%d, enum names, STATUS on two lines, whole seconds rounded up)", () => {
  const group = { ...primaryStatus(), rgState: "ONLINE_FAULTED" };
  const member = memberStatus("db", {
    resourceState: "START_FAILED",
    status: "DEGRADED",
    statusMessage: "slow\nanswers",
    failoverMode: "RESTART_ONLY",
    restarts: { used: 1, max: 3, windowMs: 2500, resetsInMs: 1000 },
    groupRestarts: 4,
    probeIntervalMs: 500,
  });
  const got = Object.fromEntries(
    RESOURCE_GET_TAG_NAMES.map((t) => [t, resourceGetText(t, group, member)]),
  );
  assertEquals(got, {
    NUM_RG_RESTARTS: "4\n",
    NUM_RESOURCE_RESTARTS: "1\n",
    RESOURCE_STATE: "START_FAILED\n",
    RG_STATE: "ONLINE_FAULTED\n",
    STATUS: "DEGRADED\nslow\\x0aanswers\n",
    RETRY_COUNT: "3\n",
    RETRY_INTERVAL: "3\n",
    FAILOVER_MODE: "RESTART_ONLY\n",
    THOROUGH_PROBE_INTERVAL: "1\n",
  });
  // An empty message is still its line: scripts read two.
  assertEquals(
    resourceGetText("STATUS", group, memberStatus("db", { statusMessage: "" })),
    "OK\n\n",
  );
});
