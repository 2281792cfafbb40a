import { assertEquals } from "@std/assert";
import fc from "fast-check";
import { mqttPublishSize } from "./mqtt_publish_size.ts";

Deno.test("mqttPublishSize() counts the topic's UTF-8 bytes like TextEncoder does", () => {
  const encoder = new TextEncoder();
  for (const topic of ["a/b", "é", "€", "😀", "a\ud800b", "\udc00", "x😀y€é", "\ud800"]) {
    assertEquals(mqttPublishSize(topic, 3, 0), 1 + 1 + 2 + encoder.encode(topic).length + 3);
  }
  fc.assert(
    fc.property(fc.string({ unit: "binary" }), fc.nat(100), (topic, payload) => {
      const remaining = 2 + encoder.encode(topic).length + 2 + payload;
      assertEquals(mqttPublishSize(topic, payload, 1), 1 + (remaining < 128 ? 1 : 2) + remaining);
    }),
  );
});
