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
import { settings as coreSettings } from "../core/test_helpers.ts";
import { type Io, NodeRuntime } from "./node.ts";

/** An Io whose writes, hooks and guard writes complete only when the test says so. */
class HandIo implements Io {
  time = 0;
  wake: number | null = null;
  frames: { to: string; messages: Message[] }[] = [];
  writes: { resource: string; text: string; done: (e: string | null) => void }[] = [];
  hooks: { hook: HookEffect; done: (o: HookOutcome) => void; killed: boolean }[] = [];
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
  runHook(_r: string, hook: HookEffect, done: (o: HookOutcome) => void) {
    const h = { hook, done, killed: false };
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

const grant = (resource: string, seq: number): Message => ({
  type: "ack",
  resource,
  epoch: 1,
  role: "watchdog",
  state: "unknown",
  seq,
  granted: true,
  leaseMs: 3000,
  stopTimeoutMs: 1000,
});

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
