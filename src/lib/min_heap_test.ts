import { assertEquals } from "../../tests/assert.ts";
import { MinHeap } from "./min_heap.ts";

Deno.test("MinHeap gives items back in order, ties in the order `before` says", () => {
  const heap = new MinHeap<number>((a, b) => a < b);
  const values = Array.from({ length: 500 }, (_, i) => (i * 7919) % 257);
  for (const v of values) heap.push(v);
  assertEquals(heap.size, 500);
  const out: number[] = [];
  while (heap.size > 0) out.push(heap.pop()!);
  assertEquals(out, [...values].sort((a, b) => a - b));
  assertEquals(heap.pop(), undefined);
});

Deno.test("MinHeap.retain drops what is not kept and stays ordered", () => {
  const heap = new MinHeap<number>((a, b) => a < b);
  for (const v of [9, 4, 7, 1, 8, 2]) heap.push(v);
  heap.retain((v) => v % 2 === 0);
  assertEquals(heap.peek(), 2);
  const out: number[] = [];
  while (heap.size > 0) out.push(heap.pop()!);
  assertEquals(out, [2, 4, 8]);
});
