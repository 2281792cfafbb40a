import { assert, assertEquals } from "@std/assert";

const assertFalse = (value: boolean, message?: string): void => assert(!value, message);
import { MessageIds } from "./_message_ids.ts";

Deno.test("MessageIds hands out ids 1.. and never one still in use", () => {
  const ids = new MessageIds();
  assertEquals([ids.allocate(), ids.allocate(), ids.allocate()], [1, 2, 3]);
  assertEquals(ids.getLastAllocated(), 3);
  ids.deallocate(2);
  assertEquals(ids.size, 2);
  // Cycles on rather than reusing at once; a registered id is skipped.
  assert(ids.register(5));
  assertFalse(ids.register(5));
  assertFalse(ids.register(1));
  assertEquals(ids.allocate(), 4);
  assertEquals(ids.allocate(), 6);
});

Deno.test("MessageIds refuses invalid registrations", () => {
  const ids = new MessageIds();
  for (const bad of [0, -1, 65_536, 1.5, NaN]) assertFalse(ids.register(bad), String(bad));
  assertEquals(ids.size, 0);
});

Deno.test("MessageIds wraps after 65535 and returns null when every id is in use", () => {
  const ids = new MessageIds();
  const seen = new Set<number>();
  for (let i = 0; i < 65_535; i++) {
    const id = ids.allocate();
    assert(id !== null && id >= 1 && id <= 65_535 && !seen.has(id), `id ${id}`);
    seen.add(id);
  }
  assertEquals(ids.size, 65_535);
  assertEquals(ids.allocate(), null);
  ids.deallocate(7);
  ids.deallocate(40_000);
  // Wraps to the lowest free one after 65535.
  assertEquals(ids.allocate(), 7);
  assertEquals(ids.allocate(), 40_000);
  assertEquals(ids.allocate(), null);
});

Deno.test("MessageIds keeps its guarantee across the switch between few and many ids", () => {
  const ids = new MessageIds();
  const inUse = new Set<number>();
  let seed = 42;
  const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648;
  for (let step = 0; step < 20_000; step++) {
    // Grows to ~100 in use, then shrinks back to 0, twice.
    const grow = step % 10_000 < 5_000 ? 0.6 : 0.35;
    if (inUse.size === 0 || random() < grow) {
      const id = ids.allocate()!;
      assertFalse(inUse.has(id), `id ${id} handed out while in use`);
      inUse.add(id);
    } else {
      const id = [...inUse][Math.floor(random() * inUse.size)]!;
      ids.deallocate(id);
      inUse.delete(id);
    }
    assertEquals(ids.size, inUse.size);
  }
  ids.clear();
  assertEquals(ids.size, 0);
  assertEquals(ids.allocate(), 1);
});
