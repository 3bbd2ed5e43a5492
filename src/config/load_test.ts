import { assertEquals, assertRejects } from "../../tests/assert.ts";
import {
  ConfigFileError,
  configPath,
  configuredNodeNames,
  DEFAULT_CONFIG_PATH,
  loadConfig,
} from "./load.ts";
import { resourceSettings } from "./settings.ts";

Deno.test("loadConfig: node from the hostname, paths relative to the file, secret_file read", async () => {
  const dir = await Deno.makeTempDir();
  const saved = Deno.env.get("HASTMON_NODE");
  Deno.env.delete("HASTMON_NODE");
  try {
    const host = Deno.hostname();
    await Deno.writeTextFile(`${dir}/secret`, "a-secret-of-twenty-bytes\n", { mode: 0o600 });
    await Deno.writeTextFile(
      `${dir}/hastmon.toml`,
      `exec = "hooks/svc.sh"\nstate_dir = "state"\n[key]\nsecret_file = "secret"\n` +
        `[resource.web.on."${host}"]\nremote = "none"\n` +
        `[resource.web.on."${host}-peer"]\nremote = ["127.0.0.1"]\npriority = 1\n`,
    );
    const r = await loadConfig(`${dir}/hastmon.toml`);
    assertEquals(r.errors, []);
    const cfg = r.config!;
    assertEquals([cfg.node, cfg.nodeSource], [host, "hostname"]);
    assertEquals(cfg.global.stateDir, `${dir}/state`);
    assertEquals(cfg.key?.secret, new TextEncoder().encode("a-secret-of-twenty-bytes"));
    assertEquals(cfg.resources[0].self?.exec, `${dir}/hooks/svc.sh`);
    // --node picks another node's view; the simulator asks for any node's settings.
    const peer = await loadConfig(`${dir}/hastmon.toml`, { node: `${host}-peer` });
    assertEquals(peer.config!.nodeSource, "flag");
    const s = resourceSettings(peer.config!, "web");
    assertEquals([s.self, s.priority, s.peers], [`${host}-peer`, 1, [host]]);
    assertEquals(resourceSettings(peer.config!, "web", host).priority, 100);
  } finally {
    if (saved !== undefined) Deno.env.set("HASTMON_NODE", saved);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadConfig: an unreadable file is a ConfigFileError", async () => {
  const err = await assertRejects(() => loadConfig("/nonexistent/hastmon.toml"), "no such file");
  assertEquals(err instanceof ConfigFileError, true);
});

Deno.test("configPath: the flag, else HASTMON_CONFIG, else the default", () => {
  const saved = Deno.env.get("HASTMON_CONFIG");
  try {
    Deno.env.delete("HASTMON_CONFIG");
    assertEquals(configPath(), DEFAULT_CONFIG_PATH);
    Deno.env.set("HASTMON_CONFIG", "/etc/h.toml");
    assertEquals(configPath(), "/etc/h.toml");
    assertEquals(configPath("x.toml"), "x.toml");
  } finally {
    if (saved === undefined) Deno.env.delete("HASTMON_CONFIG");
    else Deno.env.set("HASTMON_CONFIG", saved);
  }
});

Deno.test("configuredNodeNames: [on.N] and [resource.R.on.N]; none for invalid TOML", () => {
  assertEquals(
    configuredNodeNames(`[on.a]\n[resource.x.on.b]\n[resource.y.on.a]\n[resource.z]\n`),
    ["a", "b"],
  );
  assertEquals(configuredNodeNames(`[on.a`), []);
});
