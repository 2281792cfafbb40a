import { assertEquals } from "@std/assert";
import { MemoryStore } from "../memory_store.ts";
import { completeStore } from "../contracts/complete_store.ts";
import type { AstarteError } from "../errors.ts";
import { parseInterface } from "../interface/interface.ts";
import { RetentionQueues } from "./retention.ts";

const MAPPING = parseInterface({
  interface_name: "org.example.Values",
  version_major: 1,
  version_minor: 0,
  type: "datastream",
  ownership: "device",
  mappings: [{ endpoint: "/v", type: "integer", retention: "volatile" }],
}).mappings[0]!;

Deno.test("a full volatile queue larger than a call's argument limit keeps its newest samples", async () => {
  const capacity = 200_000;
  const reports: AstarteError[] = [];
  const report = (error: AstarteError) => reports.push(error);
  const queues = new RetentionQueues({
    store: completeStore(new MemoryStore(), { sampleCapacity: capacity, report }),
    volatileCapacity: capacity,
    now: () => 0,
    report,
  });
  const payload = new Uint8Array(0);
  for (let i = 0; i <= capacity; i++) {
    await queues.retain(queues.sample("org.example.Values", "/v", payload, MAPPING, 0), MAPPING);
  }
  assertEquals(queues.volatileLength, capacity);
  assertEquals(reports.map((e) => e.code), ["sample-dropped"]);
});
