/**
 * Type tests of the typed facade, over the fixture interfaces in `interfaces/` (every Astarte
 * type, parametric endpoints, object aggregation with required keys, properties with and without
 * `allow_unset`, server-owned interfaces). `deno test` type-checks this file: each
 * `@ts-expect-error` line must be a compile error (an unused directive is itself an error), and
 * `expect_error_test.ts` checks that each one is an error of its own line. The calls are in
 * functions that never run; one test runs the correct calls against FakeAstarte.
 *
 * Keep every wrong call on the line right after its directive.
 *
 * @module
 */
import { assertEquals } from "@std/assert";
import { Device } from "../../mod.ts";
import { FakeAstarte } from "../../testing/mod.ts";
import { typedDevice } from "../../src/typed/mod.ts";
import {
  allInterfaces,
  OrgExampleTypedClimate as Climate,
  OrgExampleTypedCommands as Commands,
  OrgExampleTypedEverything as Everything,
  OrgExampleTypedFlat as Flat,
  OrgExampleTypedSensors as Sensors,
  OrgExampleTypedSettings as Settings,
  OrgExampleTypedStatus as Status,
} from "./generated.ts";

/** `true` exactly when `A` and `B` are the same type. */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true
  : false;

const at = new Date(0);
const ts = { timestamp: at };
const blob = new Uint8Array([1, 2]);

/** Individual datastream sends: paths, the 14 value types, timestamps. */
async function individualSends(device: Device): Promise<void> {
  const e = typedDevice(device, Everything);
  // Correct calls: every type (scalars carry explicit_timestamp, arrays do not).
  await e.send("/s/double", 1.5, ts);
  await e.send("/s/integer", 7, ts);
  await e.send("/s/boolean", true, ts);
  await e.send("/s/longinteger", 2n ** 40n, ts);
  await e.send("/s/longinteger", 42, ts);
  await e.send("/s/string", "x", ts);
  await e.send("/s/binaryblob", blob, ts);
  await e.send("/s/datetime", at, ts);
  await e.send("/s/doublearray", [1.5, 2]);
  await e.send("/s/integerarray", [1, 2]);
  await e.send("/s/booleanarray", [true]);
  await e.send("/s/longintegerarray", [1n, 2]);
  await e.send("/s/stringarray", ["a"]);
  await e.send("/s/binaryblobarray", [blob]);
  await e.send("/s/datetimearray", [at]);
  await e.send("/s/doublearray", [1, 2] as const);
  await e.send("/g/deep/s/value", 1);
  await e.send("/fixed/level", 3, ts);
  const sensor: string = "kitchen";
  await e.send(`/${sensor}/double`, 1, ts);
  await e.send(`/${sensor}/deep/${sensor}/value`, 1);

  // Paths
  // @ts-expect-error: no endpoint ends with "/duble"
  await e.send("/s/duble", 1.5, ts);
  // @ts-expect-error: a parameter matches one level, not two
  await e.send("/a/b/double", 1.5, ts);
  // @ts-expect-error: missing level
  await e.send("/deep/s/value", 1);
  // @ts-expect-error: a literal level must match
  await e.send("/other/level", 3, ts);
  // @ts-expect-error: a path of unknown content is not provably an endpoint
  await e.send(sensor, 1, ts);

  // Value types
  // @ts-expect-error: double takes a number
  await e.send("/s/double", "1.5", ts);
  // @ts-expect-error: integer takes a number
  await e.send("/s/integer", 7n, ts);
  // @ts-expect-error: boolean takes a boolean
  await e.send("/s/boolean", 1, ts);
  // @ts-expect-error: longinteger takes a bigint or a number
  await e.send("/s/longinteger", "42", ts);
  // @ts-expect-error: string takes a string
  await e.send("/s/string", 1, ts);
  // @ts-expect-error: binaryblob takes a Uint8Array
  await e.send("/s/binaryblob", [1, 2], ts);
  // @ts-expect-error: datetime takes a Date
  await e.send("/s/datetime", 0, ts);
  // @ts-expect-error: doublearray takes numbers
  await e.send("/s/doublearray", ["1"]);
  // @ts-expect-error: integerarray takes an array
  await e.send("/s/integerarray", 1);
  // @ts-expect-error: booleanarray takes booleans
  await e.send("/s/booleanarray", [1]);
  // @ts-expect-error: longintegerarray takes bigints or numbers
  await e.send("/s/longintegerarray", ["1"]);
  // @ts-expect-error: stringarray takes strings
  await e.send("/s/stringarray", "a");
  // @ts-expect-error: binaryblobarray takes Uint8Arrays
  await e.send("/s/binaryblobarray", blob);
  // @ts-expect-error: datetimearray takes Dates
  await e.send("/s/datetimearray", [0]);

  // Timestamps
  // @ts-expect-error: explicit_timestamp mapping without a timestamp
  await e.send("/s/double", 1.5);
  // @ts-expect-error: explicit_timestamp mapping with an options object lacking it
  await e.send("/s/double", 1.5, {});
  // @ts-expect-error: a mapping without explicit_timestamp refuses one
  await e.send("/s/doublearray", [1], ts);
  // @ts-expect-error: the timestamp is a Date
  await e.send("/s/double", 1.5, { timestamp: 0 });

  // Wrong method for the interface
  // @ts-expect-error: not object-aggregated
  await e.sendAggregate("/s", { double: 1 }, ts);
  // @ts-expect-error: not a properties interface
  await e.setProperty("/s/double", 1);
  // @ts-expect-error: not a properties interface
  await e.unsetProperty("/s/double");
  // @ts-expect-error: a datastream has no stored property values
  e.getProperty("/s/double");
  // @ts-expect-error: device-owned: the server sends no data on it
  e.onData(() => {});
}

/** Object aggregation: object path, keys, required keys, types, timestamps. */
async function objectSends(device: Device): Promise<void> {
  const climate = typedDevice(device, Climate);
  await climate.sendAggregate("/kitchen", { temperature: 21.5, label: "k" }, ts);
  await climate.sendAggregate("/kitchen", {
    temperature: 21.5,
    label: "k",
    humidity: 40,
    readings: [1n, 2],
  }, ts);
  const flat = typedDevice(device, Flat);
  await flat.sendAggregate("/", { x: 1, y: 2 });
  await flat.sendAggregate("/", { x: 1 });

  // @ts-expect-error: the required key "label" is missing
  await climate.sendAggregate("/kitchen", { temperature: 21.5 }, ts);
  // @ts-expect-error: unknown key
  await climate.sendAggregate("/kitchen", { temperature: 21.5, label: "k", pressure: 1 }, ts);
  // @ts-expect-error: humidity is a double
  await climate.sendAggregate("/kitchen", { temperature: 21.5, label: "k", humidity: "40" }, ts);
  // @ts-expect-error: the object path has one level
  await climate.sendAggregate("/kitchen/temperature", { temperature: 21.5, label: "k" }, ts);
  // @ts-expect-error: the object path has one level, not two
  await climate.sendAggregate("/a/b", { temperature: 21.5, label: "k" }, ts);
  // @ts-expect-error: explicit_timestamp: the timestamp is required
  await climate.sendAggregate("/kitchen", { temperature: 21.5, label: "k" });
  // @ts-expect-error: object interfaces send objects, not individual values
  await climate.send("/kitchen/temperature", 21.5, ts);
  // @ts-expect-error: a depth-1 object is sent on "/"
  await flat.sendAggregate("/x", { x: 1 });
  // @ts-expect-error: no explicit_timestamp: no timestamp
  await flat.sendAggregate("/", { x: 1 }, ts);
}

/** Device-owned properties: set, unset where allow_unset, typed reads. */
async function deviceProperties(device: Device): Promise<void> {
  const sensors = typedDevice(device, Sensors);
  await sensors.setProperty("/s1/name", "Kitchen");
  await sensors.setProperty("/s1/enabled", true);
  await sensors.setProperty("/limits/max", 10n);
  await sensors.setProperty("/limits/thresholds", [1.5]);
  await sensors.unsetProperty("/s1/name");
  await sensors.unsetProperty("/limits/max");
  const name: string | undefined = sensors.getProperty("/s1/name");
  const max: bigint | undefined = sensors.getProperty("/limits/max");
  const maxIsExact: Equal<typeof max, bigint | undefined> = true;

  // @ts-expect-error: "enabled" has no allow_unset
  await sensors.unsetProperty("/s1/enabled");
  // @ts-expect-error: "thresholds" has no allow_unset
  await sensors.unsetProperty("/limits/thresholds");
  // @ts-expect-error: name is a string
  await sensors.setProperty("/s1/name", 1);
  // @ts-expect-error: no such property
  await sensors.setProperty("/s1/nmae", "x");
  // @ts-expect-error: properties take no timestamp
  await sensors.setProperty("/s1/name", "x", ts);
  // @ts-expect-error: properties are set with setProperty()
  await sensors.send("/s1/name", "x");
  // @ts-expect-error: a read returns the received type (bigint), not number
  const wrong: number | undefined = sensors.getProperty("/limits/max");
  void [name, max, maxIsExact, wrong];
}

/** Server-owned interfaces: no sends; typed incoming data. */
async function serverOwned(device: Device): Promise<void> {
  const commands = typedDevice(device, Commands);
  const settings = typedDevice(device, Settings);
  const status = typedDevice(device, Status);

  // @ts-expect-error: server-owned datastream: no send
  await commands.send("/c/text", "hello");
  // @ts-expect-error: server-owned properties: no set
  await settings.setProperty("/rate", 5);
  // @ts-expect-error: server-owned properties: no unset
  await settings.unsetProperty("/led/1/enabled");
  // @ts-expect-error: server-owned object: no send
  await status.sendAggregate("/u", { code: 1 });

  // Reading a server-owned property is fine, and typed.
  const rate: number | undefined = settings.getProperty("/rate");
  const led: boolean | undefined = settings.getProperty("/led/0/enabled");
  // @ts-expect-error: no such property
  settings.getProperty("/led/0/on");

  commands.onData((data) => {
    const name: "org.example.typed.Commands" = data.interfaceName;
    switch (data.endpoint) {
      case "/%{channel}/text": {
        const text: Equal<typeof data.value, string> = true;
        const path: Equal<typeof data.path, `/${string}/text`> = true;
        void [text, path];
        break;
      }
      case "/%{channel}/payload": {
        const payload: Equal<typeof data.value, Uint8Array> = true;
        void payload;
        break;
      }
      case "/stats/counter": {
        const counter: Equal<typeof data.value, bigint> = true;
        void counter;
        break;
      }
      case "/stats/schedule": {
        const schedule: Equal<typeof data.value, Date[]> = true;
        void schedule;
        break;
      }
      // @ts-expect-error: not an endpoint of Commands
      case "/%{channel}/nope":
        break;
    }
    void name;
  });
  settings.onData((data) => {
    if (data.endpoint === "/rate") {
      // /rate has no allow_unset: never undefined.
      const value: Equal<typeof data.value, number> = true;
      void value;
    } else {
      const value: Equal<typeof data.value, boolean | undefined> = true;
      void value;
    }
  });
  for await (const data of status.incoming()) {
    const value: Equal<typeof data.value, { readonly code?: number; readonly message?: string }> =
      true;
    const path: Equal<typeof data.path, `/${string}`> = true;
    void [value, path];
  }
  void [rate, led];
}

/** Several interfaces: name first, incoming data discriminated by interface name. */
async function severalInterfaces(device: Device): Promise<void> {
  const typed = typedDevice(device, allInterfaces);
  await typed.send("org.example.typed.Everything", "/s/double", 1, ts);
  await typed.sendAggregate("org.example.typed.Climate", "/k", { temperature: 1, label: "k" }, ts);
  await typed.setProperty("org.example.typed.Sensors", "/s/name", "x");
  await typed.unsetProperty("org.example.typed.Sensors", "/s/name");
  const rate: number | undefined = typed.getProperty("org.example.typed.Settings", "/rate");

  // @ts-expect-error: misspelled interface name
  await typed.send("org.example.typed.Everythin", "/s/double", 1, ts);
  // @ts-expect-error: server-owned interface
  await typed.send("org.example.typed.Commands", "/c/text", "x");
  // @ts-expect-error: wrong value type on the named interface
  await typed.send("org.example.typed.Everything", "/s/string", 1, ts);
  // @ts-expect-error: the path belongs to another interface
  await typed.send("org.example.typed.Everything", "/s/name", "x", ts);
  // @ts-expect-error: "enabled" has no allow_unset
  await typed.unsetProperty("org.example.typed.Sensors", "/s/enabled");

  typed.onData((data) => {
    switch (data.interfaceName) {
      case "org.example.typed.Commands":
        if (data.endpoint === "/%{channel}/text") {
          const text: Equal<typeof data.value, string> = true;
          void text;
        }
        break;
      case "org.example.typed.Status": {
        const code: number | undefined = data.value.code;
        void code;
        break;
      }
      case "org.example.typed.Settings":
        break;
      // @ts-expect-error: device-owned interfaces deliver no data
      case "org.example.typed.Everything":
        break;
    }
  });
  void rate;
}

Deno.test("typed facade: the correct calls of the type tests run against FakeAstarte", async () => {
  const deviceId = "ABEiM0RVZneImaq7zN3u_w";
  const interfaces = allInterfaces.map((iface) => iface.json);
  const astarte = new FakeAstarte({ interfaces });
  await using device = new Device({
    deviceId,
    realm: astarte.realm,
    transport: astarte.transport(deviceId),
    interfaces,
  });
  await device.connect();
  const e = typedDevice(device, Everything);
  const results = await Promise.all([
    e.send("/s/double", 1.5, ts),
    e.send("/s/longinteger", 2n ** 40n, ts),
    e.send("/s/binaryblobarray", [blob]),
    e.send("/g/deep/s/value", 1),
    typedDevice(device, Climate).sendAggregate("/kitchen", { temperature: 21.5, label: "k" }, ts),
    typedDevice(device, Flat).sendAggregate("/", { x: 1 }),
    typedDevice(device, Sensors).setProperty("/s1/name", "Kitchen"),
  ]);
  assertEquals(results.map((r) => r.status), Array(7).fill("delivered"));
  assertEquals(astarte.deviceErrors(deviceId), []);
  // The never-called functions exist so that the type checker sees them.
  assertEquals(
    [individualSends, objectSends, deviceProperties, serverOwned, severalInterfaces].length,
    5,
  );
});
