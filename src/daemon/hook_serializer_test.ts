import { assertEquals, assertRejects } from "../../tests/assert.ts";
import { HOOK_METHODS, type HookMethod } from "../core/types.ts";
import { HookSerializer, laneOf } from "./hook_serializer.ts";

/** A task whose end the test controls, recording when it begins and ends. */
function gate(events: string[], name: string) {
  let open!: () => void;
  let fail!: (e: Error) => void;
  const done = new Promise<void>((resolve, reject) => {
    open = resolve;
    fail = reject;
  });
  const task = async () => {
    events.push(`${name}+`);
    try {
      await done;
    } finally {
      events.push(`${name}-`);
    }
    return name;
  };
  return { task, open, fail };
}

/** Let queued promise callbacks run. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

Deno.test("start and stop of one resource never overlap and run in request order", async () => {
  const s = new HookSerializer();
  const events: string[] = [];
  const start = gate(events, "start");
  const stop = gate(events, "stop");
  const started = s.run("web", "start", start.task);
  const stopped = s.run("web", "stop", stop.task);
  await settle();
  assertEquals(events, ["start+"]);
  assertEquals(s.pending("web", "stop"), 2);
  stop.open(); // The stop may not begin before the start has ended, ready or not.
  await settle();
  assertEquals(events, ["start+"]);
  start.open();
  assertEquals(await started, "start");
  assertEquals(await stopped, "stop");
  assertEquals(events, ["start+", "start-", "stop+", "stop-"]);
  assertEquals(s.pending("web", "start"), 0);
});

Deno.test("a status runs beside a start, but only one status at a time", async () => {
  const s = new HookSerializer();
  const events: string[] = [];
  const start = gate(events, "start");
  const status1 = gate(events, "status1");
  const status2 = gate(events, "status2");
  const all = [
    s.run("web", "start", start.task),
    s.run("web", "status", status1.task),
    s.run("web", "status", status2.task),
  ];
  await settle();
  assertEquals(events, ["start+", "status1+"]);
  status1.open();
  await settle();
  assertEquals(events, ["start+", "status1+", "status1-", "status2+"]);
  status2.open();
  start.open();
  await Promise.all(all);
  await s.idle();
});

Deno.test("different resources do not wait for each other", async () => {
  const s = new HookSerializer();
  const events: string[] = [];
  const a = gate(events, "a");
  const b = gate(events, "b");
  const runs = [s.run("a", "start", a.task), s.run("b", "start", b.task)];
  await settle();
  assertEquals(events, ["a+", "b+"]);
  b.open();
  a.open();
  await Promise.all(runs);
});

Deno.test("a failed task rejects its caller and does not hold up the queue", async () => {
  const s = new HookSerializer();
  const events: string[] = [];
  const bad = gate(events, "bad");
  const good = gate(events, "good");
  const failing = s.run("web", "stop", bad.task);
  const next = s.run("web", "start", good.task);
  bad.fail(new Error("boom"));
  await assertRejects(() => failing, "boom");
  good.open();
  assertEquals(await next, "good");
  await s.idle();
  assertEquals(events, ["bad+", "bad-", "good+", "good-"]);
});

Deno.test("idle waits for tasks queued while waiting", async () => {
  const s = new HookSerializer();
  const events: string[] = [];
  const first = gate(events, "first");
  const second = gate(events, "second");
  s.run("web", "role", first.task);
  const idle = s.idle().then(() => events.push("idle"));
  s.run("db", "connect", second.task);
  first.open();
  await settle();
  assertEquals(events.includes("idle"), false);
  second.open();
  await idle;
  assertEquals(events.at(-1), "idle");
});

Deno.test("every method has a lane", () => {
  const methods: HookMethod[] = [...HOOK_METHODS];
  assertEquals(methods.map(laneOf), [
    "control",
    "control",
    "status",
    "notify",
    "notify",
    "notify",
    "notify",
    "control",
    "control",
  ]);
});
