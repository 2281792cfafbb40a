import { assert, assertEquals, assertThrows } from "@std/assert";
import {
  assertDeviceId,
  assertRealmName,
  deviceIdFromBytes,
  deviceIdFromUuid,
  deviceIdToBytes,
  generateDeviceId,
  generateRandomDeviceId,
  isValidDeviceId,
  isValidRealmName,
} from "./device_id.ts";

Deno.test("generateRandomDeviceId() returns 22 url-safe chars decoding to a UUIDv4", () => {
  const seen = new Set<string>();
  for (let i = 0; i < 200; i++) {
    const id = generateRandomDeviceId();
    assertEquals(id.length, 22);
    assert(/^[A-Za-z0-9_-]+$/.test(id), id);
    assert(!id.includes("="));
    const bytes = Uint8Array.fromBase64(id, { alphabet: "base64url" });
    assertEquals(bytes.length, 16);
    assertEquals(bytes[6]! >> 4, 4);
    assertEquals(bytes[8]! >> 6, 0b10);
    assert(isValidDeviceId(id));
    seen.add(id);
  }
  assertEquals(seen.size, 200);
});

Deno.test("generateDeviceId() reproduces every UUIDv5 vector of protocol reference §1.2", async () => {
  const vectors = [
    [
      "f79ad91f-c638-4889-ae74-9d001a3b4cf8",
      "myidentifierdata",
      "0092274b-4c37-5695-a9b8-eaa45e181974",
      "AJInS0w3VpWpuOqkXhgZdA",
    ],
    [
      "b068931c-c450-342b-a3f5-b3d276ea4297",
      "0099112233",
      "76fb7d98-b0da-59bd-af5b-b6dd049c0a0a",
      "dvt9mLDaWb2vW7bdBJwKCg",
    ],
    [
      "6ba7b810-9dad-11d1-80b4-00c04fd430c8",
      "serial-0001",
      "2ab74a85-fa1b-5464-b1a4-bdd4844105e5",
      "KrdKhfobVGSxpL3UhEEF5Q",
    ],
  ] as const;
  for (const [namespace, name, uuid, expected] of vectors) {
    const id = await generateDeviceId(namespace, name);
    assertEquals(id, expected);
    assertEquals(deviceIdFromUuid(uuid), expected);
    assertEquals(deviceIdToBytes(id).toHex(), uuid.replaceAll("-", ""));
    // Upper-case namespaces are the same UUID.
    assertEquals(await generateDeviceId(namespace.toUpperCase(), name), expected);
  }
});

Deno.test("deviceIdFromBytes() reproduces the raw-bytes vector of protocol reference §1.2", () => {
  const bytes = Uint8Array.fromHex("00112233445566778899aabbccddeeff");
  assertEquals(deviceIdFromBytes(bytes), "ABEiM0RVZneImaq7zN3u_w");
  assertEquals(deviceIdFromUuid("00112233-4455-6677-8899-aabbccddeeff"), "ABEiM0RVZneImaq7zN3u_w");
  assertEquals(deviceIdToBytes("ABEiM0RVZneImaq7zN3u_w"), bytes);
  assertThrows(() => deviceIdFromBytes(new Uint8Array(15)), RangeError, "16 bytes");
});

Deno.test("generateDeviceId() rejects a namespace that is not a canonical UUID", async () => {
  for (
    const ns of ["", "f79ad91fc6384889ae749d001a3b4cf8", "{f79ad91f-c638-4889-ae74-9d001a3b4cf8}"]
  ) {
    let thrown: unknown;
    try {
      await generateDeviceId(ns, "x");
    } catch (err) {
      thrown = err;
    }
    assert(thrown instanceof TypeError, `namespace ${ns} was accepted`);
  }
});

Deno.test("isValidDeviceId() accepts only canonical 22-char IDs of 16 bytes", () => {
  assert(isValidDeviceId("ABEiM0RVZneImaq7zN3u_w"));
  assert(isValidDeviceId("AAAAAAAAAAAAAAAAAAAAAA"));
  const invalid = [
    "",
    "ABEiM0RVZneImaq7zN3u_", // 21 chars
    "ABEiM0RVZneImaq7zN3u_wA", // 23 chars
    "ABEiM0RVZneImaq7zN3u_w==", // padded
    "ABEiM0RVZneImaq7zN3u/w", // standard alphabet
    "ABEiM0RVZneImaq7zN3u+w",
    "ABEiM0RVZneImaq7zN3u_x", // non-zero trailing bits: not the canonical encoding
    "ABEiM0RVZneImaq7zN3u w",
    "AJInS0w3VpWpuOqkXhgZdAAJInS0w3VpWpuOqkXhgZdA", // extended ID
  ];
  for (const id of invalid) {
    assert(!isValidDeviceId(id), `${id} was accepted`);
    assertThrows(() => assertDeviceId(id), TypeError, "Invalid device ID");
  }
  assert(!isValidDeviceId(undefined as unknown as string));
  assertDeviceId("ABEiM0RVZneImaq7zN3u_w");
});

Deno.test("isValidRealmName() applies the pattern and the reserved names", () => {
  for (const ok of ["a", "myrealm", "test1", "systemx", "x".repeat(48), "astarte2"]) {
    assert(isValidRealmName(ok), ok);
  }
  for (
    const bad of [
      "",
      "1realm",
      "MyRealm",
      "my-realm",
      "my_realm",
      "x".repeat(49),
      "astarte",
      "system",
      "system_x",
    ]
  ) {
    assert(!isValidRealmName(bad), bad);
    assertThrows(() => assertRealmName(bad), TypeError, "Invalid realm name");
  }
});
