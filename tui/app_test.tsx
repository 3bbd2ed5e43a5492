/**
 * The console's panels, keys and states with ink-testing-library: fixed
 * snapshots of daemons in, frames out. No daemon, no clock (tickMs 0).
 */
import { render } from "ink-testing-library";
import { assert, assertEquals } from "../tests/assert.ts";
import { App } from "./app.tsx";
import type { DaemonSnapshot } from "./model.ts";
import { GIVEOVER_TIMEOUT_MS } from "./plan.ts";
import {
  alphaWeb,
  answer,
  betaWeb,
  connected,
  event,
  FixedSource,
  healthy,
  member,
  unreachable,
  wdWeb,
} from "./test_fixtures.ts";
import type { DemoControls, DemoKey, DemoSnapshot } from "../src/demo/controls.ts";

const tick = (ms = 30) => new Promise((r) => setTimeout(r, ms));
// deno-lint-ignore no-control-regex
const ANSI = /\x1b\[[0-9;?]*[A-Za-z]/g;
const KEY = { up: "\u001B[A", down: "\u001B[B", enter: "\r", esc: "\u001B" };

/** Render the console on `daemons`; `frame()` is the last frame without colours. */
async function show(daemons: DaemonSnapshot[] | FixedSource, demo?: DemoControls) {
  const source = daemons instanceof FixedSource ? daemons : new FixedSource(daemons);
  const r = render(
    <App source={source} demo={demo} clock={() => 1000} wallClock={() => 50_000} tickMs={0} />,
  );
  await tick();
  const frame = () => (r.lastFrame() ?? "").replace(ANSI, "");
  const press = async (...keys: string[]) => {
    for (const k of keys) {
      r.stdin.write(k);
      await tick();
    }
  };
  /** Wait (up to 3 s: a loaded machine renders late) until the frame shows `text`. */
  const see = async (text: string) => {
    const end = Date.now() + 3000;
    while (!frame().includes(text)) {
      if (Date.now() > end) throw new Error(`no ${JSON.stringify(text)} in:\n${frame()}`);
      await tick(10);
    }
  };
  /** Wait until `fn` holds. */
  const until = async (what: string, fn: () => boolean) => {
    const end = Date.now() + 3000;
    while (!fn()) {
      if (Date.now() > end) throw new Error(`${what} did not happen:\n${frame()}`);
      await tick(10);
    }
  };
  /**
   * Press `key` until the frame shows `text`: a prompt listens once its effects have run,
   * which a loaded machine may delay past the frame that shows it.
   */
  const pressUntil = async (key: string, text: string) => {
    for (let i = 0; i < 60 && !frame().includes(text); i++) await press(key);
    await see(text);
  };
  return { ...r, source, frame, press, pressUntil, see, until };
}

/** Make the test terminal `columns` × `rows` and tell the console, as a real resize does. */
async function resize(stdout: unknown, columns: number, rows: number) {
  const out = stdout as { emit(e: string): void };
  Object.defineProperty(out, "columns", { value: columns, configurable: true });
  Object.defineProperty(out, "rows", { value: rows, configurable: true });
  out.emit("resize");
  await tick();
}

/** Wait (up to 3 s) until the frame fits `columns` × `rows`, then check it does. */
async function fits(frame: () => string, columns: number, rows: number) {
  const ok = (f: string) =>
    f.split("\n").length <= rows - 1 && f.split("\n").every((l) => l.length <= columns);
  for (let i = 0; i < 300 && !ok(frame()); i++) await tick(10);
  assertFits(frame(), columns, rows);
}

function assertFits(frame: string, columns: number, rows: number) {
  const lines = frame.split("\n");
  assert(lines.length <= rows - 1, `${lines.length} lines in ${rows} rows:\n${frame}`);
  for (const l of lines) {
    assert(l.length <= columns, `line wider than ${columns}: ${JSON.stringify(l)}`);
  }
}

Deno.test("console: connected cluster: header, matrix, lease bar, links, events, footer", async () => {
  const daemons = healthy();
  daemons[1] = {
    ...daemons[1],
    events: [event("beta", 1, "lease granted to alpha (epoch 4)")],
  };
  const { frame, unmount } = await show(daemons);
  const f = frame();
  for (
    const text of [
      "alpha",
      "RESOURCE",
      "▶ web",
      "primary up e4",
      "secondary down e4",
      "watchdog e4",
      "2s of 3s",
      "links: all connected",
      "events",
      "lease granted to alpha (epoch 4)",
      "? help",
    ]
  ) assert(f.includes(text), `no ${JSON.stringify(text)} in:\n${f}`);
  assert(f.includes("█") || f.includes("■"), `no lease bar in:\n${f}`);
  unmount();
});

Deno.test("console: an unreachable daemon shows as such, its node from a peer's view, the link down", async () => {
  const beta = betaWeb({
    peers: [{ ...betaWeb().peers[0], connected: false, lastHeardAgoMs: 3200 }, betaWeb().peers[1]],
    explanations: ["alpha not heard for 3.2s"],
  });
  const { frame, unmount } = await show([
    unreachable("/run/alpha.sock", answer("alpha", alphaWeb()), 0),
    connected(answer("beta", beta)),
    connected(answer(
      "wd",
      wdWeb({
        peers: [{ ...wdWeb().peers[0], connected: false, lastHeardAgoMs: 3100 }, wdWeb().peers[1]],
      }),
    )),
  ]);
  const f = frame();
  assert(f.includes("alpha unreachable"), f);
  assert(f.includes("lease (last known)"), f);
  assert(f.includes("✗primary"), f);
  assert(f.includes("links down: beta✗alpha 3.2s"), f);
  assert(f.includes("beta: alpha not heard for 3.2s"), f);
  unmount();
});

Deno.test("console: complaints rising, then a takeover and a failover in progress", async () => {
  const source = new FixedSource(healthy());
  const { frame, see, unmount } = await show(source);
  const withBeta = (over: Parameters<typeof betaWeb>[0]) => {
    const d = healthy();
    d[1] = connected(answer("beta", betaWeb(over)));
    return d;
  };
  source.set(withBeta({ complaints: { count: 2, threshold: 3, windowMs: 60_000, from: ["wd"] } }));
  await tick();
  await see("complaints ●●○○ 2 of 4 needed in 1m0s from wd");
  source.set(withBeta({
    complaints: { count: 4, threshold: 3, windowMs: 60_000, from: ["wd"] },
    takeover: { silenceMs: 3000, waitMs: 4350 },
    failover: {
      kind: "takeover",
      from: "alpha",
      agoMs: 500,
      phases: { detectedMs: 0, decidedMs: 20, oldStoppedMs: null, startedMs: null },
    },
  }));
  await tick();
  const f = frame();
  assert(f.includes("●●●●"), f);
  assert(f.includes("takeover in 1.35s"), f);
  assert(f.includes("takeover alpha→beta 0.5s ago: decided +0.02s · old out … · started …"), f);
  unmount();
});

Deno.test("console: a group's state, members and budgets, the request under way, pingpong marks, the hook's member", async () => {
  const alpha = alphaWeb({
    state: "starting",
    rgState: "PENDING_ONLINE",
    members: [
      member("db", { restarts: { used: 2, max: 2, windowMs: 300_000, resetsInMs: 252_000 } }),
      member("ip", { state: "stopped", resourceState: "OFFLINE" }),
      member("app", {
        state: "starting",
        resourceState: "STARTING",
        status: "DEGRADED",
        statusMessage: "slow",
      }),
    ],
    hook: { method: "start", member: "app", runningMs: 1200 },
    request: { optag: "RESTART", member: "db", phase: "stopping", target: null },
    pingpong: [{ node: "beta", member: "db", untilWallMs: 1e12, remainingMs: 3_540_000 }],
  });
  const { see, unmount } = await show([connected(answer("alpha", alpha))]);
  await see("alpha PENDING_ONLINE: db ONLINE restarts 2/2, resets in 4m12s · ip OFFLINE (not");
  await see("alpha start of app running 1.2s");
  await see("alpha: RESTART of db under way (stopping)");
  await see("pingpong: db of web may not go back to beta for 59m0s");
  unmount();
});

Deno.test("console: a group in trouble is shown even when its one member is the resource", async () => {
  const alpha = alphaWeb({
    rgState: "ONLINE_FAULTED",
    members: [member("web", { status: "FAULTED", statusMessage: "no answer on :80" })],
  });
  const { see, unmount } = await show([connected(answer("alpha", alpha))]);
  // One member named after the resource: no member list, but a group in trouble is shown.
  await see("alpha ONLINE_FAULTED");
  unmount();
});

Deno.test("console: no daemon answers: why, in red", async () => {
  const { see, unmount } = await show([unreachable("/run/gone.sock", null)]);
  await see("gone.sock unreachable");
  await see("no daemon is listening");
  unmount();
});

Deno.test("console: nothing answered yet", async () => {
  const { see, unmount } = await show([{
    id: "/run/x.sock",
    phase: "connecting",
    status: null,
    receivedAt: null,
    error: null,
    downSince: null,
    events: [],
  }]);
  await see("waiting for a daemon to answer");
  await see("x.sock");
  unmount();
});

Deno.test("console keys: arrows and j/k select, enter shows details, esc goes back", async () => {
  const daemons = [
    connected(answer("alpha", alphaWeb(), alphaWeb({ resource: "db" }))),
  ];
  const { frame, press, see, unmount } = await show(daemons);
  await see("▶ db");
  await press("j");
  await see("▶ web");
  await press(KEY.up);
  await see("▶ db");
  await press(KEY.down, "k", "k");
  await see("▶ db");
  await press(KEY.enter);
  await see("peers: beta connected");
  assert(!frame().includes("RESOURCE"), frame());
  await press(KEY.esc);
  await see("RESOURCE");
  unmount();
});

Deno.test("console keys: ? shows the help, esc closes it", async () => {
  const { frame, press, see, unmount } = await show(healthy());
  await press("?");
  assert(frame().includes("keys") && frame().includes("give over the group"), frame());
  await press(KEY.esc);
  await see("RESOURCE");
  unmount();
});

Deno.test("console keys: g gives over; the screen stays live until the answer, which says how it went", async () => {
  const source = new FixedSource(healthy());
  let answer = () => {};
  source.answered = new Promise((r) => answer = r);
  source.reply = () => ({ v: 1, id: 1, ok: true, result: { code: 0, message: "beta runs web" } });
  const { press, pressUntil, see, until, unmount } = await show(source);
  await press("g");
  await see("give over from alpha to beta");
  await see("hastmon ctl --node alpha giveover web --to beta");
  await see("monitor_check");
  await pressUntil("y", "waiting for the answer to: web: give over from alpha to beta");
  await until("the send", () => source.sent.length > 0);
  assertEquals(source.sent, [{
    daemon: "/run/alpha.sock",
    request: { type: "scha", group: "web", optag: "GIVEOVER", to: "beta" },
    timeoutMs: GIVEOVER_TIMEOUT_MS,
  }]);
  // Meanwhile the matrix is there, and another plan waits for the answer.
  await see("RESOURCE");
  await press("s");
  await see("still waiting for the answer to: web: give over");
  answer();
  await see("sent: alpha: beta runs web");
  unmount();
});

Deno.test("console keys: a giveover refused by the daemon shows its SCHA_ERR", async () => {
  const source = new FixedSource(healthy());
  source.reply = () => ({
    v: 1,
    id: 1,
    ok: true,
    result: { code: 16, message: "no node may take the group: beta: veto: /data not mounted" },
  });
  const { press, pressUntil, unmount } = await show(source);
  await press("g");
  await pressUntil("y", "alpha refused (SCHA_ERR 16): no node may take the group: beta: veto");
  unmount();
});

Deno.test("console keys: r picks a role, shows the plan, y sends it to that node's daemon", async () => {
  const { frame, press, see, until, source, unmount } = await show(healthy());
  await press("r");
  await see("alpha: primary → secondary");
  // The list reads keys once its effects have run: move down one line at a time (a key the
  // list missed is pressed again) until the cursor is on beta → primary.
  const cursor = () => frame().split("\n").find((l) => l.includes("❯")) ?? "";
  for (let i = 0; i < 60 && !cursor().includes("beta: secondary → primary"); i++) {
    const at = cursor();
    await press(KEY.down);
    for (let j = 0; j < 20 && cursor() === at; j++) await tick(10);
  }
  await press(KEY.enter);
  await see("plan (dry run): web: beta becomes primary");
  await see("hastmon ctl --node beta role primary web");
  await see("alpha is primary now");
  assertEquals(source.sent, []);
  // The prompt listens once its effects have run, which a loaded machine may delay past the
  // frame: press until it answers (after the send, y means nothing).
  for (let i = 0; i < 60 && source.sent.length === 0; i++) await press("y");
  await until("the send", () => source.sent.length > 0);
  assertEquals(source.sent, [{
    daemon: "/run/beta.sock",
    request: { type: "role", role: "primary", resources: ["web"] },
  }]);
  await see("sent: beta: web primary → primary");
  unmount();
});

Deno.test("console keys: s shows the switchover plan; n cancels and sends nothing", async () => {
  const { press, pressUntil, see, source, unmount } = await show(healthy());
  await press("s");
  await see("switch over from alpha");
  await see("hastmon ctl --node alpha role secondary web --to beta");
  await pressUntil("n", "cancelled: nothing was sent");
  assertEquals(source.sent, []);
  // Enter cancels too (the default), esc backs out.
  await press("s", KEY.enter);
  assertEquals(source.sent, []);
  await press("s", KEY.esc, "y");
  assertEquals(source.sent, []);
  unmount();
});

Deno.test("console keys: a blocked plan cannot be confirmed", async () => {
  const lonely = alphaWeb({
    peers: [{ ...alphaWeb().peers[0], connected: false }, alphaWeb().peers[1]],
  });
  const { press, see, source, unmount } = await show([
    connected(answer("alpha", lonely)),
  ]);
  await press("s");
  await see("blocked");
  await see("no secondary is connected to alpha");
  await press("y", KEY.enter);
  assertEquals(source.sent, []);
  unmount();
});

Deno.test("console keys: s then y hands over to the secondary the plan named", async () => {
  const { press, pressUntil, source, unmount } = await show(healthy());
  await press("s");
  await pressUntil("y", "sent: alpha: web primary → secondary");
  assertEquals(source.sent, [{
    daemon: "/run/alpha.sock",
    request: { type: "role", role: "secondary", resources: ["web"], to: "beta" },
  }]);
  unmount();
});

Deno.test("console keys: a refused request and a failed one are reported", async () => {
  const source = new FixedSource(healthy());
  source.reply = () => ({
    v: 1,
    id: 1,
    ok: false,
    error: { code: "refused", message: "web: cannot hand over: beta is not a connected secondary" },
  });
  const { press, pressUntil, unmount } = await show(source);
  await press("s");
  await pressUntil("y", "alpha refused: web: cannot hand over: beta is not a connected");
  source.reply = () => ({
    v: 1,
    id: 1,
    ok: false,
    error: { code: "internal", message: "disk full" },
  });
  await press("s");
  await pressUntil("y", "alpha failed: disk full");
  unmount();
});

Deno.test("console keys: q quits (nothing reacts after)", async () => {
  const { frame, press, unmount } = await show(healthy());
  await press("q");
  const before = frame();
  await press("?");
  assertEquals(frame(), before);
  unmount();
});

Deno.test("console: fits 80×24 and follows a resize", async () => {
  const daemons = healthy();
  daemons[0] = {
    ...daemons[0],
    events: Array.from(
      { length: 40 },
      (_, i) => event("alpha", i + 1, `event number ${i + 1} `.repeat(8)),
    ),
  };
  const { frame, see, stdout, unmount } = await show(daemons);
  await resize(stdout, 80, 24);
  await fits(frame, 80, 24);
  await see("event number 40");
  await resize(stdout, 60, 16);
  await fits(frame, 60, 16);
  await see("▶ web");
  await resize(stdout, 120, 40);
  await fits(frame, 120, 40);
  for (let i = 0; i < 300 && !frame().split("\n").some((l) => l.length > 80); i++) await tick(10);
  assert(frame().split("\n").some((l) => l.length > 80), "the wider terminal is used");
  unmount();
});

/** A demo with a fixed state that records the keys it gets. */
class FakeDemo implements DemoControls {
  acts: [DemoKey, string | null][] = [];
  constructor(public state: DemoSnapshot) {}
  subscribe() {
    return () => {};
  }
  snapshot() {
    return this.state;
  }
  act(key: DemoKey, primary: string | null) {
    this.acts.push([key, primary]);
  }
}

Deno.test("console demo: who serves the page, the faults, the last failover; 1–6 go to the demo", async () => {
  const demo = new FakeDemo({
    phase: "running",
    error: null,
    dir: "/tmp/hastmon-demo-x",
    url: "http://127.0.0.1:4242/",
    page: { node: "beta", epoch: "5" },
    pageSince: 48_000,
    lastFault: {
      what: "killed",
      node: "alpha",
      at: 46_000,
      servedAgainAt: 47_900,
      servedBy: "beta",
    },
    boundMs: 2350,
    killed: ["alpha"],
    frozen: [],
    cuts: ["nodeA–nodeB"],
    notice: null,
  });
  const daemons = healthy();
  daemons[1] = {
    ...daemons[1],
    events: [event("beta", 9, "", {
      kind: "transition",
      from: "secondary",
      to: "primary",
      epoch: 5,
      reason: "takeover",
      time: new Date(47_400).toISOString(),
    })],
  };
  const { frame, press, see, unmount } = await show(daemons, demo);
  const f = frame();
  assert(f.includes("page served by beta (epoch 5) for 2s"), f);
  assert(f.includes("faults: alpha killed, nodeA–nodeB cut"), f);
  assert(
    f.includes("failover: killed alpha · beta primary +1.4s · page beta +1.9s (bound 2.35s)"),
    f,
  );
  await press("1", "5", "x");
  assertEquals(demo.acts, [["1", "alpha"], ["5", "alpha"]]);
  await press("?");
  await see("demo faults");
  unmount();
});

Deno.test("console demo: starting and failed", async () => {
  const base: DemoSnapshot = {
    phase: "starting",
    error: null,
    dir: "/tmp/hastmon-demo-y",
    url: "http://127.0.0.1:1/",
    page: null,
    pageSince: 0,
    lastFault: null,
    boundMs: null,
    killed: [],
    frozen: [],
    cuts: [],
    notice: null,
  };
  const starting = await show([], new FakeDemo(base));
  assert(
    starting.frame().includes("starting three daemons in /tmp/hastmon-demo-y"),
    starting.frame(),
  );
  starting.unmount();
  const failed = await show([], new FakeDemo({ ...base, phase: "failed", error: "port taken" }));
  assert(failed.frame().includes("demo failed: port taken"), failed.frame());
  failed.unmount();
});
