import { assertEquals } from "../../tests/assert.ts";
import { closest, didYouMean, editDistance } from "./suggest.ts";

Deno.test("editDistance counts inserts, deletes and substitutions", () => {
  assertEquals(editDistance("", "abc"), 3);
  assertEquals(editDistance("kitten", "sitting"), 3);
  assertEquals(editDistance("heartbeat_intervall", "heartbeat_interval"), 1);
  assertEquals(editDistance("same", "same"), 0);
});

Deno.test("closest suggests only plausible typos", () => {
  const keys = ["heartbeat_interval", "timeout", "complaint_count", "complaint_interval"];
  assertEquals(closest("hearbeat_interval", keys), "heartbeat_interval");
  assertEquals(closest("Timeout", keys), "timeout");
  assertEquals(closest("complaint_cnt", keys), "complaint_count");
  assertEquals(closest("colour", keys), null);
  assertEquals(didYouMean("timout", keys), " (did you mean `timeout`?)");
  assertEquals(didYouMean("zzz", keys), "");
});
