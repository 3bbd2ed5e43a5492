import { assertEquals } from "../../tests/assert.ts";
import { EVENT_BUFFER, EventLog } from "./events.ts";

Deno.test("EventLog.recent: the last `limit` events, none for 0, all for more than there are", () => {
  const log = new EventLog("a");
  for (let i = 0; i < 5; i++) log.emit(null, "log", "info", `e${i}`);
  const seqs = (limit?: number) => log.recent(limit).map((e) => e.seq);
  assertEquals(seqs(2), [4, 5]);
  // `ctl events` never asks for 0, but the protocol allows it: 0 is none, not everything.
  assertEquals(seqs(0), []);
  assertEquals(seqs(2 ** 53 - 1), [1, 2, 3, 4, 5]);
  assertEquals(seqs(), [1, 2, 3, 4, 5]);
  for (let i = 0; i < EVENT_BUFFER; i++) log.emit(null, "log", "info", "more");
  assertEquals(log.recent().length, EVENT_BUFFER);
});
