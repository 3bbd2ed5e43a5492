/**
 * The effect interpreter with a hand-driven Io: what waits for the disk and
 * what does not, one frame per peer per batch, and one clock per node.
 */
import { assert, assertEquals } from "../../tests/assert.ts";
import type {
  Effect,
  GuardCommand,
  HookEffect,
  HookOutcome,
  Message,
  ResourceSettings,
} from "../core/types.ts";
import { ackMsg, settings as coreSettings } from "../core/test_helpers.ts";
import { type Io, NodeRuntime } from "./node.ts";

/** An Io whose writes, hooks and guard writes complete only when the test says so. */
class HandIo implements Io {
  time = 0;
  wake: number | null = null;
  frames: { to: string; messages: Message[] }[] = [];
  writes: { resource: string; text: string; done: (e: string | null) => void }[] = [];
  hooks: { resource: string; hook: HookEffect; done: (o: HookOutcome) => void; killed: boolean }[] =
    [];
  guards: { command: GuardCommand; done: () => void }[] = [];
  logs: string[] = [];
  now() {
    return this.time;
  }
  wall() {
    return 1_767_225_600_000 + this.time;
  }
  setWake(at: number | null) {
    this.wake = at;
  }
  send(to: string, messages: Message[]) {
    this.frames.push({ to, messages });
  }
  runHook(resource: string, hook: HookEffect, done: (o: HookOutcome) => void) {
    const h = { resource, hook, done, killed: false };
    this.hooks.push(h);
    return () => h.killed = true;
  }
  writeState(resource: string, text: string, done: (e: string | null) => void) {
    this.writes.push({ resource, text, done });
  }
  guard(_r: string, command: GuardCommand, done: () => void) {
    this.guards.push({ command, done });
  }
  log(_l: string, message: string) {
    this.logs.push(message);
  }
  transition(_r: string, _e: Effect & { type: "transition" }) {}
  quiesced() {}
  /** Complete every write so far (or fail them with `error`). */
  flushWrites(error: string | null = null) {
    for (const w of this.writes.splice(0)) w.done(error);
  }
  flushGuard() {
    for (const g of this.guards.splice(0)) g.done();
  }
  hookNamed(method: string) {
    return this.hooks.filter((h) => h.hook.method === method);
  }
}

const settings = (name: string, over: Partial<ResourceSettings> = {}) =>
  coreSettings("a", { name, roleOnStart: "primary", ...over });

const grant = (resource: string, seq: number): Message => ackMsg({ resource, seq });

Deno.test("runtime: nothing is announced before the state it follows is written", () => {
  const io = new HandIo();
  const rt = new NodeRuntime(io);
  rt.add(settings("r"), null);
  // The promotion's persist is out; the lease request behind it waits.
  assertEquals(io.writes.length, 1);
  assertEquals(io.frames, []);
  io.flushWrites();
  assertEquals(io.frames.map((f) => f.to).sort(), ["b", "w"]);
  assertEquals(io.frames[0].messages[0].type, "heartbeat");
});

Deno.test("runtime: a disk that refuses the state keeps everything behind it unannounced", () => {
  const io = new HandIo();
  const rt = new NodeRuntime(io);
  rt.add(settings("r"), null);
  io.flushWrites("No space left on device");
  assertEquals(io.frames, []);
  assert(io.logs.some((l) => l.includes("cannot persist state")));
  // The next event tries the write again; once it lands, announcing resumes.
  io.time = 250;
  rt.wake();
  assertEquals(io.writes.length, 1);
  io.flushWrites();
  io.time = 500;
  rt.wake();
  assert(io.frames.length > 0);
});

Deno.test("runtime: self-fencing does not wait for the disk: cancel and stop go out at once", () => {
  const io = new HandIo();
  const rt = new NodeRuntime(io);
  rt.add(settings("r"), null);
  io.flushWrites();
  rt.receive("w", [grant("r", 1)]);
  // The boot probe says stopped: the guard is armed, then the start waits for the guard.
  io.hookNamed("status")[0].done({ kind: "exit", code: 1 });
  assertEquals(io.hookNamed("start"), [], "a start waits until the guard has the arm");
  io.flushGuard();
  assertEquals(io.hookNamed("start").length, 1);
  // The lease runs out while the start still runs; the step-down persists, and the disk hangs.
  io.time = 3000;
  rt.wake();
  assertEquals(io.writes.length, 1, "the step-down's persist is out");
  assertEquals(io.hookNamed("start")[0].killed, true, "the start is killed without waiting");
  io.hookNamed("start")[0].done({ kind: "killed", signal: "SIGTERM" });
  assertEquals(io.hookNamed("stop").length, 1, "the stop runs while the write still hangs");
  assertEquals(io.guards.map((g) => g.command.action), ["stopping"]);
});

Deno.test("runtime: one frame per peer per tick, whatever the number of resources", () => {
  const io = new HandIo();
  const rt = new NodeRuntime(io);
  for (let i = 0; i < 200; i++) rt.add(settings(`r${i}`), null);
  io.flushWrites();
  io.frames = [];
  io.flushWrites();
  // Every resource beats on the same grid: one wake, one frame to each peer.
  io.time = io.wake!;
  rt.wake();
  assertEquals(io.frames.map((f) => f.to).sort(), ["b", "w"]);
  assertEquals(io.frames[0].messages.length, 200);
  // The acks of a whole frame produce one frame back per peer too.
  const seqs = io.frames[0].messages.map((m) => (m as Message & { type: "heartbeat" }).seq);
  io.frames = [];
  rt.receive("w", seqs.map((seq, i) => grant(`r${i}`, seq)));
  assert(io.frames.length <= 2, `${io.frames.length} frames`);
});

Deno.test("runtime: a wake steps only the machines that are due", () => {
  const io = new HandIo();
  const rt = new NodeRuntime(io);
  rt.add(settings("fast", { heartbeatIntervalMs: 100 }), null);
  rt.add(settings("slow", { heartbeatIntervalMs: 10_000 }), null);
  io.flushWrites();
  io.frames = [];
  io.time = 100;
  rt.wake();
  const resources = new Set(io.frames.flatMap((f) => f.messages.map((m) => m.resource)));
  assertEquals([...resources], ["fast"]);
});

Deno.test("runtime: a message for an unknown resource is dropped alone", () => {
  const io = new HandIo();
  const rt = new NodeRuntime(io);
  rt.add(settings("r"), null);
  io.flushWrites();
  rt.receive("w", [grant("nope", 1), grant("r", 1)]);
  assert(rt.status("r")!.lease!.held, "the good message of the frame still counted");
});

/**
 * Run the node until `until` (wake-ups in order, each `lateMs` late): w grants
 * every lease request; writes and guard writes complete; hooks are answered
 * by `answer` at once (and `seen` is told of each).
 */
function drive(
  io: HandIo,
  rt: NodeRuntime,
  until: number,
  answer: (h: HookEffect) => HookOutcome,
  seen: (resource: string, h: HookEffect) => void = () => {},
  lateMs = 0,
) {
  for (let step = 0; step < 100_000; step++) {
    io.flushWrites();
    io.flushGuard();
    for (const h of io.hooks.splice(0)) {
      seen(h.resource, h.hook);
      h.done(answer(h.hook));
    }
    const asks = io.frames.splice(0).filter((f) => f.to === "w").flatMap((f) => f.messages)
      .filter((m) => m.type === "heartbeat") as (Message & { type: "heartbeat" })[];
    if (asks.length > 0) rt.receive("w", asks.map((m) => grant(m.resource, m.seq)));
    if (io.writes.length > 0 || io.guards.length > 0 || io.hooks.length > 0) continue;
    if (io.wake === null || io.wake > until) return;
    io.time = Math.max(io.time, io.wake + lateMs);
    rt.wake();
  }
  throw new Error("drive: no end");
}

/** Hooks of a service that runs: every hook exits 0 (a probe: running). */
const running = (): HookOutcome => ({ kind: "exit", code: 0 });

Deno.test("runtime: probes of an online service are spread by name, each on its own slot", () => {
  const io = new HandIo();
  const rt = new NodeRuntime(io);
  for (let i = 0; i < 20; i++) rt.add(settings(`r${i}`), null);
  const probes: { at: number; resource: string; deferrable: boolean }[] = [];
  drive(io, rt, 20_000, running, (resource, h) => {
    if (h.method === "status") {
      probes.push({ at: io.time, resource, deferrable: h.deferrableMs === 1000 });
    }
  });
  // All twenty started together; then each probes once a second at its own phase, so
  // the probes of one second are spread over it, and keep their slots.
  const second = (k: number) => probes.filter((p) => p.at >= k * 1000 && p.at < (k + 1) * 1000);
  assertEquals(second(10).map((p) => p.resource).sort(), second(11).map((p) => p.resource).sort());
  assertEquals(new Set(second(10).map((p) => p.resource)).size, 20, "each once a second");
  assert(new Set(second(10).map((p) => p.at)).size >= 15, "not all in the same instant");
  for (const p of second(10)) {
    assertEquals(second(15).find((q) => q.resource === p.resource)!.at, p.at + 5000);
  }
  assert(second(10).every((p) => p.deferrable), "an online member's probe may wait under load");
  assertEquals(rt.load().probesDeferred, 0);
});

const heartbeatFromB = (resource: string, seq: number): Message => ({
  type: "heartbeat",
  resource,
  epoch: 0,
  role: "secondary",
  state: "stopped",
  seq,
  leaseMs: 3000,
  stopTimeoutMs: 1000,
});

Deno.test("runtime: a node that keeps running late sheds notifications and routine probes, never heartbeats", () => {
  const io = new HandIo();
  const rt = new NodeRuntime(io);
  rt.add(settings("r"), null);
  const probes: { at: number; deferrable: boolean }[] = [];
  const notes: string[] = [];
  const seen = (_r: string, h: HookEffect) => {
    if (h.method === "status") probes.push({ at: io.time, deferrable: h.deferrableMs === 1000 });
    if (h.method === "connect") notes.push(h.method);
  };
  drive(io, rt, 10_000, running, seen);
  assertEquals(rt.status("r")!.state, "running");
  assertEquals(rt.load().shedding, false);
  // One wake-up 1.5 s late is a freeze, not a load: nothing is shed.
  io.time = io.wake! + 1500;
  rt.wake();
  drive(io, rt, io.time + 100, running, seen);
  assertEquals(rt.load().shedding, false);
  // Wake-ups that keep coming 0.6 s late (the limit is 0.5 s): shedding.
  const before = probes.length;
  drive(io, rt, io.time + 4000, running, seen, 600);
  const load = rt.load();
  assertEquals(load.shedding, true);
  assert(load.probesDeferred >= 1, "a routine probe waited");
  // Held: it runs one probe interval later at most, and the machine does not ask twice.
  const later = probes.slice(before);
  for (let i = 1; i < later.length; i++) {
    assert(later[i].at - later[i - 1].at <= 2 * 1000 + 600 + 1, JSON.stringify(later));
  }
  // A notification while shedding is dropped, and counted.
  rt.receive("b", [heartbeatFromB("r", 1)]);
  drive(io, rt, io.time + 100, running, seen, 600);
  assertEquals(notes, []);
  assertEquals(rt.load().notificationsDropped, 1);
  // Heartbeats still go out every interval (drive answers each with a grant), and the
  // lease holds.
  const beatsAt: number[] = [];
  const sent = io.send.bind(io);
  io.send = (to, messages) => {
    if (to === "w" && messages.some((m) => m.type === "heartbeat")) beatsAt.push(io.time);
    sent(to, messages);
  };
  drive(io, rt, io.time + 5000, running, seen, 600);
  assert(beatsAt.length >= 4, `${beatsAt.length} heartbeats in 5 s`);
  assert(rt.load().shedding, "still shedding");
  assertEquals(rt.status("r")!.role, "primary");
  assert(rt.status("r")!.lease!.held, "the lease survived the overload");
  // On time for ten seconds: shedding ends, and says what it did.
  drive(io, rt, io.time + 11_000, running, seen);
  assertEquals(rt.load().shedding, false);
  assertEquals(rt.load().probesHeld, 0);
});

Deno.test("runtime: a probe that a start or a takeover waits on is never held back", () => {
  const io = new HandIo();
  const rt = new NodeRuntime(io);
  rt.add(settings("r"), null);
  const probes: HookEffect[] = [];
  // Late from the start: the boot probe and the probe confirming the start carry no
  // deferrableMs and run at once; the node gets its service up while shedding.
  drive(io, rt, 8000, running, (_r, h) => {
    if (h.method === "status") probes.push(h);
  }, 600);
  assertEquals(rt.load().shedding, true);
  assertEquals(probes[0].deferrableMs, undefined, "the boot probe");
  assertEquals(probes[1].deferrableMs, undefined, "the probe after the start");
  assertEquals(rt.status("r")!.state, "running");
});

/** Run late (600 ms a wake-up) until the node sheds load and holds a routine probe back. */
function holdARoutineProbe(io: HandIo, rt: NodeRuntime) {
  for (let i = 0; i < 20 && rt.load().probesHeld === 0; i++) {
    io.time = io.wake! + 600;
    rt.wake();
    io.flushWrites();
    io.flushGuard();
    for (const h of io.hooks.splice(0)) h.done(running());
  }
  assertEquals(rt.load().probesHeld, 1);
}

Deno.test("runtime: shutdown runs held probes at once (the daemon waits for its hooks)", () => {
  const io = new HandIo();
  const rt = new NodeRuntime(io);
  rt.add(settings("r"), null);
  drive(io, rt, 10_000, running);
  // Late until a routine probe is held.
  holdARoutineProbe(io, rt);
  assertEquals(rt.idle, false, "a held probe is work left");
  rt.shutdown();
  assertEquals(rt.load().probesHeld, 0);
  assertEquals(io.hookNamed("status").length, 1, "released into its lane");
});

Deno.test("runtime: notification hooks have a node-wide budget; what is over it is dropped and counted", () => {
  const io = new HandIo();
  const rt = new NodeRuntime(io, { notifyPerSecond: 20 });
  for (let i = 0; i < 50; i++) rt.add(settings(`r${i}`), null);
  drive(io, rt, 5000, running);
  const before = rt.load().notificationsDropped; // of the fifty role notifications at start
  assertEquals(before, 30);
  // b appears for all fifty at once: fifty connect notifications in one instant.
  const connects: string[] = [];
  rt.receive("b", Array.from({ length: 50 }, (_, i) => heartbeatFromB(`r${i}`, 1)));
  drive(io, rt, io.time + 10, running, (r, h) => {
    if (h.method === "connect") connects.push(r);
  });
  assertEquals(connects.length, 20, "the burst is the budget");
  assertEquals(rt.load().notificationsDropped - before, 30);
  assertEquals(rt.load().shedding, false, "a burst of notifications is not an overload");
});

Deno.test("runtime: a held probe goes at once when its resource changes role or runs anything else", () => {
  const io = new HandIo();
  const rt = new NodeRuntime(io);
  rt.add(settings("r"), null);
  drive(io, rt, 10_000, running);
  holdARoutineProbe(io, rt);
  // A takeover or a step-down must not wait a period for a probe held back as routine
  // (the machine waits for probes in flight before it starts).
  rt.command("r", { role: "init", force: false });
  assertEquals(rt.load().probesHeld, 0);
  const released = io.hookNamed("status");
  assert(released.length >= 1, "the held probe ran");
  // ...and as what it now is, a probe that something waits on: the daemon spawns it before
  // starts, not behind every routine probe (src/daemon/spawn_queue.ts).
  assertEquals(released[0].hook.deferrableMs, undefined, "no longer routine");
});
