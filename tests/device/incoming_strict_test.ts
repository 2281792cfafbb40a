/**
 * Server-to-device data is checked exactly as strictly as device-to-server data: every case of
 * the hostile-input run that once reached `onData` is refused here, each with a small BSON
 * document built by hand. A refused message goes to `onError` as a `MalformedMessageError`
 * naming interface, path and rule, never to `onData`, `incoming()` or the property cache, and
 * the device keeps working (the probe's marker arrives after every message).
 */
import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertStrictEquals,
  assertStringIncludes,
} from "@std/assert";
import type { IncomingData } from "../../src/device.ts";
import { MalformedMessageError } from "../../src/errors.ts";
import type { Interface } from "../../src/interface/interface.ts";
import {
  bson,
  documentBytes,
  type Element,
  envelope,
  Probe,
  STRICT_OBJECT,
  STRICT_PROPS,
  STRICT_VALUES,
  T,
  UNUSED_TYPES,
} from "./_incoming_fixtures.ts";

const INT32_MIN = -(2 ** 31);
const INT64_MIN = -(2n ** 63n);
const DAY_ONE = 1704067200000; // 2024-01-01T00:00:00Z

/** Sends `payload` and checks it was refused with a rule mentioning every `mentions`. */
async function refused(
  probe: Probe,
  iface: Interface,
  path: string,
  payload: Uint8Array,
  ...mentions: string[]
): Promise<MalformedMessageError> {
  const outcome = await probe.send(probe.topicOf(iface, path), payload);
  assert(outcome.matched);
  assertEquals(outcome.data, [], "a refused message must not reach onData");
  assertEquals(outcome.errors.length, 1, outcome.errors.map((e) => e.message).join("\n"));
  const error = outcome.errors[0];
  assertInstanceOf(error, MalformedMessageError);
  assertStrictEquals(error.code, "malformed-message");
  assertStrictEquals(error.interfaceName, iface.name);
  assertStrictEquals(error.path, path);
  assertStringIncludes(error.message, `"${iface.name}" path "${path}"`);
  for (const text of mentions) assertStringIncludes(error.rule, text);
  assertStrictEquals(probe.device.state, "connected");
  return error;
}

/** Sends `payload` and returns the one data event it caused. */
async function delivered(
  probe: Probe,
  iface: Interface,
  path: string,
  payload: Uint8Array,
): Promise<IncomingData> {
  const outcome = await probe.send(probe.topicOf(iface, path), payload);
  assertEquals(outcome.errors.map((e) => e.message), []);
  assertEquals(outcome.data.length, 1);
  return outcome.data[0]!;
}

Deno.test("Device refuses an integer of -2^31 and a longinteger of -2^63, as when sending", async () => {
  await using probe = await Probe.connect();
  const V = STRICT_VALUES;
  await refused(probe, V, "/a/integer", envelope(bson.int32(INT32_MIN)), "-2^31", "-2147483648");
  await refused(probe, V, "/a/integer", envelope(bson.int64(BigInt(INT32_MIN))), "-2^31");
  await refused(probe, V, "/a/integer", envelope(bson.int64(2n ** 31n)), "2147483647");
  await refused(probe, V, "/a/longinteger", envelope(bson.int64(INT64_MIN)), "-2^63");
  await refused(
    probe,
    V,
    "/a/integerarray",
    envelope(bson.array([bson.int32(1), bson.int32(INT32_MIN)])),
    "item 1",
    "-2^31",
  );
  await refused(
    probe,
    V,
    "/a/longintegerarray",
    envelope(bson.array([bson.int64(INT64_MIN)])),
    "item 0",
    "-2^63",
  );
  // The edges that are valid when sending are valid when receiving.
  assertStrictEquals(
    (await delivered(probe, V, "/a/integer", envelope(bson.int32(INT32_MIN + 1)))).value,
    INT32_MIN + 1,
  );
  assertStrictEquals(
    (await delivered(probe, V, "/a/longinteger", envelope(bson.int64(INT64_MIN + 1n)))).value,
    INT64_MIN + 1n,
  );
  // -2^31 is a fine longinteger, whatever BSON integer carries it.
  assertStrictEquals(
    (await delivered(probe, V, "/a/longinteger", envelope(bson.int32(INT32_MIN)))).value,
    BigInt(INT32_MIN),
  );
});

Deno.test("Device refuses NaN and Infinity as a value, an array item and an object field", async () => {
  await using probe = await Probe.connect();
  for (const x of [NaN, Infinity, -Infinity]) {
    await refused(probe, STRICT_VALUES, "/a/double", envelope(bson.double(x)), "finite");
  }
  await refused(
    probe,
    STRICT_VALUES,
    "/a/doublearray",
    envelope(bson.array([bson.double(1), bson.double(NaN)])),
    "item 1",
    "finite",
  );
  const error = await refused(
    probe,
    STRICT_OBJECT,
    "/a",
    envelope(bson.document([["integer", bson.int32(1)], ["double", bson.double(NaN)]])),
    "finite",
  );
  assertStrictEquals(error.field, "double");
  const inArray = await refused(
    probe,
    STRICT_OBJECT,
    "/a",
    envelope(bson.document([
      ["integer", bson.int32(1)],
      ["doublearray", bson.array([bson.double(-Infinity)])],
    ])),
    "item 0",
    "finite",
  );
  assertStrictEquals(inArray.field, "doublearray");
});

Deno.test("Device refuses arrays over 1024 items and accepts 1024", async () => {
  await using probe = await Probe.connect();
  const ints = (n: number) => bson.array(Array.from({ length: n }, (_, i) => bson.int32(i)));
  await refused(probe, STRICT_VALUES, "/a/integerarray", envelope(ints(6000)), "1024 items");
  await refused(probe, STRICT_VALUES, "/a/integerarray", envelope(ints(1025)), "1024 items");
  const data = await delivered(probe, STRICT_VALUES, "/a/integerarray", envelope(ints(1024)));
  assertStrictEquals((data.value as number[]).length, 1024);
  const error = await refused(
    probe,
    STRICT_OBJECT,
    "/a",
    envelope(bson.document([["integer", bson.int32(1)], ["integerarray", ints(1025)]])),
    "1024 items",
  );
  assertStrictEquals(error.field, "integerarray");
});

Deno.test("Device refuses strings and blobs over 65536 bytes and strings that are not UTF-8", async () => {
  await using probe = await Probe.connect();
  const V = STRICT_VALUES;
  await refused(probe, V, "/a/string", envelope(bson.string("a".repeat(65537))), "65536 UTF-8");
  assertStrictEquals(
    ((await delivered(probe, V, "/a/string", envelope(bson.string("a".repeat(65536)))))
      .value as string).length,
    65536,
  );
  await refused(probe, V, "/a/binaryblob", envelope(bson.binary(new Uint8Array(65537))), "65536");
  await refused(
    probe,
    V,
    "/a/stringarray",
    envelope(bson.array([bson.string("ok"), bson.string("\u00e9".repeat(32769))])),
    "item 1",
    "65536 UTF-8",
  );
  // Invalid UTF-8 in a BSON string, and in a binary given for a string.
  await refused(probe, V, "/a/string", envelope(bson.string(Uint8Array.of(0x68, 0xff))), "UTF-8");
  await refused(probe, V, "/a/string", envelope(bson.binary(Uint8Array.of(0xc3))), "UTF-8");
});

Deno.test("Device refuses BSON element types the protocol does not use", async (t) => {
  await using probe = await Probe.connect();
  await t.step("a timestamp (0x11) is no longer read as the number 7", async () => {
    for (const path of ["/a/double", "/a/integer", "/a/longinteger", "/a/datetime"]) {
      await refused(
        probe,
        STRICT_VALUES,
        path,
        envelope(bson.unused(T.timestamp)),
        "0x11",
        "timestamp",
      );
    }
  });
  await t.step("every unused type, as v", async () => {
    for (const type of UNUSED_TYPES) {
      const hex = "0x" + type.toString(16).padStart(2, "0");
      await refused(probe, STRICT_VALUES, "/a/string", envelope(bson.unused(type)), hex);
    }
  });
  await t.step("BSON undefined is not an unset", async () => {
    // The old decoder turned 0x06 into null, and {v: null} is an unset.
    const path = "/u/double"; // allow_unset
    assertEquals(
      (await delivered(probe, STRICT_PROPS, path, envelope(bson.double(1.5)))).value,
      1.5,
    );
    await refused(probe, STRICT_PROPS, path, envelope(bson.unused(T.undefined)), "0x06");
    assertStrictEquals(probe.device.getProperty(STRICT_PROPS.name, path), 1.5);
  });
  await t.step("inside an array, an object, m and as t", async () => {
    await refused(
      probe,
      STRICT_VALUES,
      "/a/doublearray",
      envelope(bson.array([bson.double(1), bson.unused(T.decimal128)])),
      'element "v.1"',
      "0x13",
    );
    await refused(
      probe,
      STRICT_OBJECT,
      "/a",
      envelope(bson.document([["integer", bson.int32(1)], ["double", bson.unused(T.minKey)]])),
      'element "v.double"',
      "0xff",
    );
    await refused(
      probe,
      STRICT_VALUES,
      "/a/double",
      envelope(bson.double(1), ["m", bson.document([["x", bson.unused(T.objectId)]])]),
      'element "m.x"',
    );
    await refused(
      probe,
      STRICT_VALUES,
      "/a/double",
      envelope(bson.double(1), ["t", bson.unused(T.timestamp)]),
      'element "t"',
    );
  });
});

Deno.test("Device refuses a key given twice in any document", async (t) => {
  await using probe = await Probe.connect();
  await t.step("v twice: no copy wins", async () => {
    await refused(
      probe,
      STRICT_VALUES,
      "/a/integer",
      documentBytes([["v", bson.int32(1)], ["v", bson.int32(2)]]),
      '"v" twice',
    );
  });
  await t.step("t twice, and a key of m twice", async () => {
    const ts: Element = ["t", bson.datetime(DAY_ONE)];
    await refused(probe, STRICT_VALUES, "/a/integer", envelope(bson.int32(1), ts, ts), '"t" twice');
    await refused(
      probe,
      STRICT_VALUES,
      "/a/integer",
      envelope(bson.int32(1), ["m", bson.document([["k", bson.null()], ["k", bson.null()]])]),
      '"k" twice',
    );
  });
  await t.step("an object key twice", async () => {
    await refused(
      probe,
      STRICT_OBJECT,
      "/a",
      envelope(bson.document([["integer", bson.int32(1)], ["integer", bson.int32(2)]])),
      '"integer" twice',
    );
  });
  await t.step("an array index twice or out of order", async () => {
    const items: Element[] = [["0", bson.int32(1)], ["0", bson.int32(2)]];
    const array = { type: T.array, body: documentBytes(items) };
    await refused(probe, STRICT_VALUES, "/a/integerarray", envelope(array), '"1" was expected');
    const swapped = documentBytes([["1", bson.int32(1)], ["0", bson.int32(2)]]);
    await refused(
      probe,
      STRICT_VALUES,
      "/a/integerarray",
      envelope({ type: T.array, body: swapped }),
      "array keys are 0, 1, 2",
    );
  });
  await t.step("a property sent with v twice leaves the cache alone", async () => {
    const path = "/d/integer";
    await delivered(probe, STRICT_PROPS, path, envelope(bson.int32(5)));
    await refused(
      probe,
      STRICT_PROPS,
      path,
      documentBytes([["v", bson.int32(6)], ["v", bson.int32(7)]]),
      "twice",
    );
    assertStrictEquals(probe.device.getProperty(STRICT_PROPS.name, path), 5);
  });
});

Deno.test("Device refuses objects without a required key, with unknown keys or with no key", async () => {
  await using probe = await Probe.connect();
  const missing = await refused(
    probe,
    STRICT_OBJECT,
    "/a",
    envelope(bson.document([["double", bson.double(1)]])),
    "required",
  );
  assertStrictEquals(missing.field, "integer");
  const unknown = await refused(
    probe,
    STRICT_OBJECT,
    "/a",
    envelope(bson.document([["integer", bson.int32(1)], ["smell", bson.string("good")]])),
    "unknown object key",
  );
  assertStrictEquals(unknown.field, "smell");
  await refused(probe, STRICT_OBJECT, "/a", envelope(bson.document([])), "at least one key");
  await refused(probe, STRICT_OBJECT, "/a", envelope(bson.int32(1)), "BSON document");
  const data = await delivered(
    probe,
    STRICT_OBJECT,
    "/a",
    envelope(bson.document([["integer", bson.int32(1)], ["string", bson.string("k")]])),
  );
  assertEquals(data.value, { integer: 1, string: "k" });
});

Deno.test("Device refuses broken BSON structure", async () => {
  await using probe = await Probe.connect();
  const V = STRICT_VALUES;
  const good = envelope(bson.int32(1));
  await refused(probe, V, "/a/boolean", envelope(bson.boolean(2)), "boolean", "0x02");
  await refused(probe, V, "/a/integer", good.subarray(0, good.length - 1), "but 11 are available");
  await refused(probe, V, "/a/integer", Uint8Array.of(...good, 0), "1 bytes follow");
  const wrongLength = good.slice();
  wrongLength[0] = 200;
  await refused(probe, V, "/a/integer", wrongLength, "declares 200 bytes");
  let deep = bson.document([["x", bson.int32(1)]]);
  for (let i = 0; i < 10; i++) deep = bson.document([["x", deep]]);
  await refused(probe, V, "/a/integer", envelope(bson.int32(1), ["m", deep]), "nested deeper");
  // A datetime the JavaScript Date cannot hold, as a value and as t.
  await refused(probe, V, "/a/datetime", envelope(bson.datetime(2n ** 62n)), "valid Date");
  await refused(
    probe,
    V,
    "/a/integer",
    envelope(bson.int32(1), ["t", bson.datetime(-(2n ** 62n))]),
    "t is a BSON datetime outside",
  );
  await refused(probe, V, "/a/integer", Uint8Array.of(1, 2, 3), "not a BSON document");
});

Deno.test("Device refuses a wrong BSON type for the mapping and names what it accepts", async () => {
  await using probe = await Probe.connect();
  const V = STRICT_VALUES;
  await refused(probe, V, "/a/integer", envelope(bson.double(1)), "int32 or int64", "BSON double");
  await refused(probe, V, "/a/binaryblob", envelope(bson.string("AQID")), "binary");
  await refused(probe, V, "/a/boolean", envelope(bson.int32(1)), "boolean");
  await refused(
    probe,
    V,
    "/a/stringarray",
    envelope(bson.array([bson.string("a"), bson.null()])),
    "item 1",
    "BSON null",
  );
  await refused(probe, V, "/a/doublearray", envelope(bson.double(1)), "BSON array");
});

Deno.test("Device keeps refused properties out of the cache and incoming()", async () => {
  await using probe = await Probe.connect();
  const path = "/c/integer";
  const iterator = probe.device.incoming();
  await refused(probe, STRICT_PROPS, path, envelope(bson.int32(INT32_MIN)), "-2^31");
  assertStrictEquals(probe.device.getProperty(STRICT_PROPS.name, path), undefined);
  await delivered(probe, STRICT_PROPS, path, envelope(bson.int32(3)));
  await refused(probe, STRICT_PROPS, path, envelope(bson.double(NaN)), "int32 or int64");
  assertStrictEquals(probe.device.getProperty(STRICT_PROPS.name, path), 3);
  // The first thing incoming() yields after the refused message is the valid one (markers
  // aside, which the probe publishes after each message).
  for (;;) {
    const next = await iterator.next();
    assert(!next.done);
    if (next.value.interfaceName !== STRICT_PROPS.name) continue;
    assertEquals([next.value.path, next.value.value], [path, 3]);
    break;
  }
  await iterator.return?.();
});

Deno.test("Device names the endpoints when a server message's path matches none", async () => {
  await using probe = await Probe.connect();
  const error = await refused(
    probe,
    STRICT_VALUES,
    "/a/b/double",
    envelope(bson.double(1)),
    "no endpoint matches the path",
    "/%{id}/double, /%{id}/integer",
    "and 4 more",
  );
  assertStrictEquals(error.field, undefined);
  await refused(probe, STRICT_OBJECT, "/a/double", envelope(bson.double(1)), "not an object path");
  await refused(probe, STRICT_VALUES, "/a//double", envelope(bson.double(1)), "empty level");
});
