import { assertEquals, assertStrictEquals, assertThrows } from "@std/assert";
import fc from "fast-check";
import { deflateSync, inflateSync } from "node:zlib";
import { AstarteError } from "../errors.ts";
import {
  baseTopic,
  dataTopic,
  decodePurgeProperties,
  EMPTY_CACHE_PAYLOAD,
  encodeIntrospection,
  encodePurgeProperties,
  MAX_PURGE_INFLATED_BYTES,
  parseIncomingTopic,
  parseIntrospection,
  splitPurgeEntry,
} from "./protocol.ts";

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(" ");
}

function fromHex(text: string): Uint8Array {
  return Uint8Array.fromHex(text.replaceAll(/\s+/g, ""));
}

Deno.test("encodeIntrospection() joins name:major:minor with ; and no trailing ;", () => {
  assertStrictEquals(
    encodeIntrospection([
      { name: "org.example.Telemetry", major: 1, minor: 2 },
      { name: "org.example.Settings", major: 0, minor: 3 },
    ]),
    "org.example.Telemetry:1:2;org.example.Settings:0:3",
  );
  assertStrictEquals(encodeIntrospection([{ name: "a.B", major: 0, minor: 1 }]), "a.B:0:1");
});

Deno.test("encodeIntrospection() gives the empty string for no interfaces", () => {
  assertStrictEquals(encodeIntrospection([]), "");
  assertStrictEquals(encodeIntrospection(new Set()), "");
});

Deno.test("encodeIntrospection() refuses names and versions that would corrupt the payload", () => {
  assertThrows(() => encodeIntrospection([{ name: "a.b;c", major: 1, minor: 0 }]), TypeError);
  assertThrows(() => encodeIntrospection([{ name: "a.b:c", major: 1, minor: 0 }]), TypeError);
  assertThrows(() => encodeIntrospection([{ name: " a.b", major: 1, minor: 0 }]), TypeError);
  assertThrows(() => encodeIntrospection([{ name: "a.b", major: -1, minor: 0 }]), RangeError);
  assertThrows(() => encodeIntrospection([{ name: "a.b", major: 1, minor: 0.5 }]), RangeError);
});

Deno.test("parseIntrospection() parses the protocol reference §5.1 example", () => {
  assertEquals(parseIntrospection("org.example.Telemetry:1:2;org.example.Settings:0:3"), [
    { name: "org.example.Telemetry", major: 1, minor: 2 },
    { name: "org.example.Settings", major: 0, minor: 3 },
  ]);
});

Deno.test("parseIntrospection() reads the empty payload as no interfaces", () => {
  assertEquals(parseIntrospection(""), []);
  assertEquals(parseIntrospection(new Uint8Array(0)), []);
});

Deno.test("parseIntrospection() accepts UTF-8 bytes and refuses invalid UTF-8", () => {
  assertEquals(parseIntrospection(new TextEncoder().encode("a.B:1:0")), [
    { name: "a.B", major: 1, minor: 0 },
  ]);
  const err = assertThrows(
    () => parseIntrospection(new Uint8Array([0x61, 0xff, 0x3a, 0x31, 0x3a, 0x30])),
    AstarteError,
    "UTF-8",
  );
  assertStrictEquals(err.code, "malformed-message");
});

Deno.test("parseIntrospection() refuses what the server refuses (protocol reference §5.1)", () => {
  const bad = [
    "a.B:1:0;", // trailing ;
    ";a.B:1:0",
    "a.B:1:0;;c.D:1:0",
    "a.B:1:0; c.D:1:0", // space
    "a.B :1:0",
    "a.B:1",
    "a.B:1:0:0",
    "a.B:-1:0",
    "a.B:1:-2",
    "a.B:1.0:0",
    "a.B:0x1:0",
    "a.B::0",
    "a.B:1: 0",
    ":1:0",
    "1a.B:1:0",
    "a..B:1:0",
    "a.B.:1:0",
    "a.-b.C:1:0",
  ];
  for (const text of bad) {
    const err = assertThrows(() => parseIntrospection(text), AstarteError, "Invalid introspection");
    assertStrictEquals(err.code, "malformed-message", text);
  }
});

Deno.test("parseIntrospection() tolerates what the server tolerates (sign, zeros, no dot)", () => {
  assertEquals(parseIntrospection("a.B:+1:007"), [{ name: "a.B", major: 1, minor: 7 }]);
  assertEquals(parseIntrospection("a.B:-0:0"), [{ name: "a.B", major: 0, minor: 0 }]);
  assertEquals(parseIntrospection("Values:1:0"), [{ name: "Values", major: 1, minor: 0 }]);
  assertEquals(parseIntrospection("a.0-b.C:1:0")[0]!.name, "a.0-b.C");
});

Deno.test("parseIntrospection() inverts encodeIntrospection()", () => {
  const component = fc.stringMatching(/^[a-zA-Z][a-zA-Z0-9]{0,6}$/);
  const middle = fc.stringMatching(/^[a-zA-Z0-9][a-zA-Z0-9-]{0,6}$/);
  const name = fc.tuple(component, fc.array(middle, { maxLength: 3 }), component).map((
    [first, mid, last],
  ) => [first, ...mid, last].join("."));
  const entry = fc.record({ name, major: fc.nat(), minor: fc.nat() }, { noNullPrototype: true });
  fc.assert(
    fc.property(fc.array(entry, { maxLength: 6 }), (entries) => {
      assertEquals(parseIntrospection(encodeIntrospection(entries)), entries);
    }),
  );
});

Deno.test("EMPTY_CACHE_PAYLOAD is the ASCII string 1", () => {
  assertEquals(EMPTY_CACHE_PAYLOAD, new TextEncoder().encode("1"));
});

// Spec 5.3 worked example (constructed with the reference zlib at the default level).
const WORKED_TEXT = "org.example.Settings/led/enabled;org.example.Settings/name";
const WORKED_BYTES = fromHex(`
  00 00 00 3a 78 9c cb 2f 4a d7 4b ad 48 cc 2d c8
  49 d5 0b 4e 2d 29 c9 cc 4b 2f d6 cf 49 4d d1 4f
  cd 4b 4c 02 d2 d6 f9 d8 14 e4 25 e6 a6 02 00 8d
  dc 16 2c`);
const WORKED_ENTRIES = ["org.example.Settings/led/enabled", "org.example.Settings/name"];

Deno.test("decodePurgeProperties() decodes the protocol reference §5.3 worked example", () => {
  assertEquals(decodePurgeProperties(WORKED_BYTES), WORKED_ENTRIES);
});

Deno.test("encodePurgeProperties() reproduces the protocol reference §5.3 worked example byte for byte", () => {
  const payload = encodePurgeProperties(WORKED_ENTRIES);
  assertEquals(payload, WORKED_BYTES);
  assertStrictEquals(new TextDecoder().decode(inflateSync(payload.subarray(4))), WORKED_TEXT);
  assertEquals(decodePurgeProperties(payload), WORKED_ENTRIES);
});

Deno.test("encodePurgeProperties() sends the empty list as prefix + empty zlib stream", () => {
  assertStrictEquals(hex(encodePurgeProperties([])), "00 00 00 00 78 9c 03 00 00 00 00 01");
});

Deno.test("encodePurgeProperties() counts UTF-8 bytes, big-endian, in the prefix", () => {
  const entry = "org.example.S/\u00e9".repeat(20); // 320 bytes, 300 UTF-16 units
  const payload = encodePurgeProperties([entry]);
  assertStrictEquals(new DataView(payload.buffer).getUint32(0, false), 320);
});

Deno.test("encodePurgeProperties() in plain-text mode sends the bare text", () => {
  assertEquals(
    encodePurgeProperties(WORKED_ENTRIES, { plaintext: true }),
    new TextEncoder().encode(WORKED_TEXT),
  );
  assertStrictEquals(encodePurgeProperties([], { plaintext: true }).length, 0);
});

Deno.test("decodePurgeProperties() accepts both empty forms", () => {
  assertEquals(decodePurgeProperties(fromHex("00000000")), []);
  assertEquals(decodePurgeProperties(fromHex("00000000789c030000000001")), []);
  assertEquals(decodePurgeProperties(fromHex("00000000"), { plaintext: true }), []);
  assertEquals(decodePurgeProperties(new Uint8Array(0), { plaintext: true }), []);
});

Deno.test("decodePurgeProperties() ignores the length prefix", () => {
  const payload = encodePurgeProperties(WORKED_ENTRIES);
  // Little-endian character count, as the Python SDK writes it.
  new DataView(payload.buffer).setUint32(0, WORKED_TEXT.length, true);
  assertEquals(decodePurgeProperties(payload), WORKED_ENTRIES);
  new DataView(payload.buffer).setUint32(0, 0xffffffff);
  assertEquals(decodePurgeProperties(payload), WORKED_ENTRIES);
});

Deno.test("decodePurgeProperties() in plain-text mode reads the raw text", () => {
  assertEquals(
    decodePurgeProperties(new TextEncoder().encode(WORKED_TEXT), { plaintext: true }),
    WORKED_ENTRIES,
  );
});

Deno.test("decodePurgeProperties() drops empty entries", () => {
  const text = new TextEncoder().encode("a.B/x;;a.B/y;");
  assertEquals(decodePurgeProperties(text, { plaintext: true }), ["a.B/x", "a.B/y"]);
});

Deno.test("decodePurgeProperties() refuses undecodable payloads with malformed-message", () => {
  const bad: [Uint8Array, string][] = [
    [new Uint8Array(0), "shorter than the prefix"],
    [fromHex("000000"), "shorter than the prefix"],
    [fromHex("00000001"), "zlib"],
    [fromHex("0000000a0102030405"), "zlib"],
    [new Uint8Array([0, 0, 0, 1, ...deflateSync(new Uint8Array([0xff]))]), "UTF-8"],
  ];
  for (const [payload, rule] of bad) {
    const err = assertThrows(() => decodePurgeProperties(payload), AstarteError, rule);
    assertStrictEquals(err.code, "malformed-message");
  }
  assertThrows(
    () => decodePurgeProperties(new Uint8Array([0xc3]), { plaintext: true }),
    AstarteError,
    "UTF-8",
  );
});

Deno.test("decodePurgeProperties() refuses payloads inflating to 10485760 bytes or more", () => {
  const bomb = (size: number) => {
    const text = new Uint8Array(size).fill(0x61);
    return new Uint8Array([0, 0, 0, 0, ...deflateSync(text)]);
  };
  const err = assertThrows(
    () => decodePurgeProperties(bomb(MAX_PURGE_INFLATED_BYTES)),
    AstarteError,
    "10485760 bytes or more",
  );
  assertStrictEquals(err.code, "malformed-message");
  const [entry] = decodePurgeProperties(bomb(MAX_PURGE_INFLATED_BYTES - 1));
  assertStrictEquals(entry!.length, MAX_PURGE_INFLATED_BYTES - 1);
});

Deno.test("decodePurgeProperties() inverts encodePurgeProperties() in both modes", () => {
  const entry = fc.string({ unit: "binary", minLength: 1, maxLength: 30 }).filter((s) =>
    !s.includes(";")
  );
  fc.assert(
    fc.property(fc.array(entry, { maxLength: 10 }), fc.boolean(), (entries, plaintext) => {
      assertEquals(
        decodePurgeProperties(encodePurgeProperties(entries, { plaintext }), { plaintext }),
        entries,
      );
    }),
  );
});

Deno.test("splitPurgeEntry() splits at the first / like the server", () => {
  assertEquals(splitPurgeEntry("org.example.Settings/led/enabled"), {
    interfaceName: "org.example.Settings",
    path: "/led/enabled",
  });
  assertEquals(splitPurgeEntry("a.B/"), { interfaceName: "a.B", path: "/" });
  assertStrictEquals(splitPurgeEntry("a.B"), undefined);
});

Deno.test("baseTopic() and dataTopic() build protocol reference §4.3 topics", () => {
  const base = baseTopic("test", "2TBn-jNESuuHamE2Zo1anA");
  assertStrictEquals(base, "test/2TBn-jNESuuHamE2Zo1anA");
  assertStrictEquals(
    dataTopic(base, "org.example.Climate", "/kitchen"),
    "test/2TBn-jNESuuHamE2Zo1anA/org.example.Climate/kitchen",
  );
  assertStrictEquals(dataTopic("r/d", "a.B", "/"), "r/d/a.B/");
});

Deno.test("parseIncomingTopic() classifies topics like the broker plugin (protocol reference §4.3)", () => {
  const base = "r/d";
  const cases: [string, unknown][] = [
    ["r/d", { kind: "introspection" }],
    ["r/d/capabilities", { kind: "capabilities" }],
    ["r/d/capabilities/x", { kind: "data", interfaceName: "capabilities", path: "/x" }],
    ["r/d/capabilities/", { kind: "data", interfaceName: "capabilities", path: "/" }],
    ["r/d/control/emptyCache", { kind: "control", path: "/emptyCache" }],
    ["r/d/control/consumer/properties", { kind: "control", path: "/consumer/properties" }],
    ["r/d/control", { kind: "control", path: "/" }],
    ["r/d/control/", { kind: "control", path: "/" }],
    ["r/d/a.B", { kind: "data", interfaceName: "a.B", path: "/" }],
    ["r/d/a.B/", { kind: "data", interfaceName: "a.B", path: "/" }],
    ["r/d/a.B/x/y", { kind: "data", interfaceName: "a.B", path: "/x/y" }],
    ["r/d/a.B//y", { kind: "data", interfaceName: "a.B", path: "//y" }],
    ["r/d/Control/x", { kind: "data", interfaceName: "Control", path: "/x" }],
  ];
  for (const [topic, expected] of cases) {
    assertEquals(parseIncomingTopic(base, topic), expected, topic);
  }
});

Deno.test("parseIncomingTopic() returns undefined for topics outside the base topic", () => {
  for (const topic of ["r/dd", "r/dd/a.B/x", "r", "x/d/a.B", "", "r/d2/control"]) {
    assertStrictEquals(parseIncomingTopic("r/d", topic), undefined, topic);
  }
});
