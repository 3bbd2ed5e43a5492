import { assertEquals } from "../../tests/assert.ts";
import { identifyNode, resolveNodeName } from "./node_identity.ts";

const nodes = ["node10", "node1x", "db.example.com", "web"];

Deno.test("node identity: --node wins over HASTMON_NODE, which wins over the hostname", () => {
  assertEquals(
    identifyNode(nodes, { flag: "alpha", env: "beta", hostname: "web" }),
    { name: "alpha", source: "flag" },
  );
  assertEquals(identifyNode(nodes, { env: "beta", hostname: "web" }), {
    name: "beta",
    source: "env",
  });
  assertEquals(identifyNode(nodes, { flag: "", env: "", hostname: "web" }), {
    name: "web",
    source: "hostname",
  });
});

Deno.test("node identity: exact hostname, then exact short hostname", () => {
  assertEquals(identifyNode(nodes, { hostname: "db.example.com" }), {
    name: "db.example.com",
    source: "hostname",
  });
  assertEquals(identifyNode(nodes, { hostname: "web.example.com" }), {
    name: "web",
    source: "short hostname",
  });
  // The full name is preferred when the file names both.
  assertEquals(
    identifyNode(["web", "web.example.com"], { hostname: "web.example.com" }).name,
    "web.example.com",
  );
});

Deno.test("node identity: never a prefix match (node1 does not claim node10)", () => {
  assertEquals(identifyNode(nodes, { hostname: "node1.example.com" }), {
    name: "node1.example.com",
    source: "hostname",
  });
  assertEquals(identifyNode(nodes, { hostname: "node1" }).name, "node1");
  assertEquals(identifyNode(["node1.example"], { hostname: "node1" }).name, "node1");
});

Deno.test("resolveNodeName reads HASTMON_NODE and the real hostname", () => {
  const saved = Deno.env.get("HASTMON_NODE");
  try {
    Deno.env.set("HASTMON_NODE", "from-env");
    assertEquals(resolveNodeName(), "from-env");
    assertEquals(resolveNodeName("from-flag"), "from-flag");
    Deno.env.delete("HASTMON_NODE");
    const host = Deno.hostname();
    assertEquals(resolveNodeName(undefined, [host]), host);
    assertEquals(resolveNodeName(undefined, [`${host}-other`]), host);
  } finally {
    if (saved === undefined) Deno.env.delete("HASTMON_NODE");
    else Deno.env.set("HASTMON_NODE", saved);
  }
});
