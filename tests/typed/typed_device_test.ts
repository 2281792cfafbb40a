/**
 * Run-time behaviour of `typedDevice()`: delegation to the device, drift protection, and typed
 * incoming data (filtering, `endpoint`, iterators). Compile-time behaviour is in
 * `typed_types_test.ts`.
 *
 * @module
 */
import { assert, assertEquals, assertRejects, assertThrows } from "@std/assert";
import { AstarteError, Device, type IncomingData, ValidationError } from "../../mod.ts";
import { FakeAstarte } from "../../testing/mod.ts";
import { typedDevice, type TypedInterface } from "../../src/typed/mod.ts";
import {
  allInterfaces,
  OrgExampleTypedClimate as Climate,
  OrgExampleTypedCommands as Commands,
  OrgExampleTypedEverything as Everything,
  OrgExampleTypedSensors as Sensors,
  OrgExampleTypedSettings as Settings,
  OrgExampleTypedStatus as Status,
} from "./generated.ts";

const deviceId = "ABEiM0RVZneImaq7zN3u_w";
const at = new Date("2026-01-02T03:04:05.678Z");

async function connected(interfaces: readonly unknown[] = allInterfaces.map((i) => i.json)) {
  const astarte = new FakeAstarte({ interfaces: allInterfaces.map((i) => i.json) });
  const device = new Device({
    deviceId,
    realm: astarte.realm,
    transport: astarte.transport(deviceId),
    interfaces,
  });
  await device.connect();
  return { astarte, device };
}

/** What the tests read of typed incoming data. */
interface Seen {
  readonly interfaceName: string;
  readonly endpoint: string;
  readonly path: string;
  readonly value: unknown;
  readonly timestamp: Date;
  readonly type: string;
}

/** Resolves with the next `count` data events of `subscribe`. */
function collect<T>(subscribe: (listener: (data: T) => void) => () => void, count: number) {
  const seen: T[] = [];
  return new Promise<T[]>((resolve) => {
    const stop = subscribe((data) => {
      seen.push(data);
      if (seen.length === count) {
        stop();
        resolve(seen);
      }
    });
  });
}

Deno.test("typedDevice() sends, sets, unsets and reads through the device's own methods", async () => {
  const { astarte, device } = await connected();
  await using _ = device;
  const everything = typedDevice(device, Everything);
  const climate = typedDevice(device, Climate);
  const sensors = typedDevice(device, Sensors);
  assertEquals([everything.name, everything.device], [Everything.name, device]);

  assertEquals(
    (await everything.send("/s1/longinteger", 2n ** 40n, { timestamp: at })).status,
    "delivered",
  );
  assertEquals((await everything.send("/s1/stringarray", ["a", "b"])).status, "delivered");
  assertEquals(
    (await climate.sendAggregate("/kitchen", { temperature: 21.5, label: "k" }, { timestamp: at }))
      .status,
    "delivered",
  );
  assertEquals((await sensors.setProperty("/s1/name", "Kitchen")).status, "delivered");
  assertEquals((await sensors.setProperty("/s1/name", "Kitchen")).status, "unchanged");
  assertEquals(sensors.getProperty("/s1/name"), "Kitchen");
  assertEquals((await sensors.unsetProperty("/s1/name")).status, "delivered");
  assertEquals(sensors.getProperty("/s1/name"), undefined);

  const data = astarte.data(deviceId).map((m) => [m.kind, m.interfaceName, m.path, m.value]);
  assertEquals(data, [
    ["data", Everything.name, "/s1/longinteger", 2n ** 40n],
    ["data", Everything.name, "/s1/stringarray", ["a", "b"]],
    ["data", Climate.name, "/kitchen", { temperature: 21.5, label: "k" }],
    ["data", Sensors.name, "/s1/name", "Kitchen"],
    ["unset", Sensors.name, "/s1/name", undefined],
  ]);
  assertEquals(astarte.data(deviceId)[0]!.timestamp, at);
  assertEquals(astarte.deviceErrors(deviceId), []);
});

Deno.test("typedDevice() keeps the device's run-time validation for calls that bypass the types", async () => {
  const { astarte, device } = await connected();
  await using _ = device;
  const everything = typedDevice(device, Everything);
  // A JavaScript caller (or a cast) can still make a wrong call: the device refuses it as usual.
  const error = await assertRejects(
    () => everything.send("/s1/double" as never, "hot" as never, { timestamp: at } as never),
    ValidationError,
  );
  assertEquals([error.interfaceName, error.path], [Everything.name, "/s1/double"]);
  await assertRejects(() => typedDevice(device, Sensors).unsetProperty("/s1/enabled" as never));
  assertEquals(astarte.data(deviceId), []);
});

Deno.test("typedDevice() accepts the same interface written differently (same canonical JSON)", async () => {
  const json = Settings.json;
  // Other key order, defaults left out, mapping order reversed, a legacy alias, whitespace.
  const written = JSON.stringify(
    {
      mappings: [...json.mappings].reverse().map(({ endpoint, type, allow_unset }) =>
        allow_unset ? { path: endpoint, type, allow_unset } : { endpoint, type }
      ),
      ownership: json.ownership,
      type: json.type,
      version_minor: json.version_minor,
      version_major: json.version_major,
      interface_name: json.interface_name,
      description: json.description,
    },
    null,
    4,
  );
  const device = new Device({ deviceId, realm: "test", interfaces: [written] });
  await using _ = device;
  assertEquals(typedDevice(device, Settings).name, Settings.name);
});

Deno.test("typedDevice() refuses an interface the device loaded in another version, naming the command", async () => {
  const changed = { ...Settings.json, version_minor: Settings.json.version_minor + 1 };
  const device = new Device({ deviceId, realm: "test", interfaces: [changed] });
  await using _ = device;
  const error = assertThrows(() => typedDevice(device, Settings), AstarteError);
  assertEquals([error.code, error.permanent], ["interface-mismatch", true]);
  assert(error.message.includes(`"${Settings.name}" was loaded as v0.4`), error.message);
  assert(error.message.includes("generated from v0.3"), error.message);
  assert(
    error.message.endsWith(
      "regenerate the types with: deno run -A jsr:@astarte-deno/device-sdk/cli interfaces " +
        "codegen tests/typed/interfaces/ -o tests/typed/generated.ts",
    ),
    error.message,
  );
});

Deno.test("typedDevice() refuses a changed mapping even when the version is the same", async () => {
  const changed = {
    ...Sensors.json,
    mappings: Sensors.json.mappings.map((m) =>
      m.endpoint === "/%{sensor}/enabled" ? { ...m, type: "integer" } : m
    ),
  };
  const device = new Device({ deviceId, realm: "test", interfaces: [changed] });
  await using _ = device;
  const error = assertThrows(() => typedDevice(device, Sensors), AstarteError);
  assertEquals(error.code, "interface-mismatch");
  assert(error.message.includes("a different document"), error.message);
});

Deno.test("typedDevice() refuses an interface the device has not loaded", async () => {
  const device = new Device({ deviceId, realm: "test", interfaces: [Sensors.json] });
  await using _ = device;
  const error = assertThrows(() => typedDevice(device, Commands), AstarteError);
  assertEquals([error.code, error.permanent], ["interface-not-found", true]);
  assert(error.message.includes(`"${Commands.name}" is not loaded by the device`), error.message);
});

Deno.test("typedDevice() over several interfaces reports every problem in one error", async () => {
  const changed = { ...Settings.json, version_minor: 9 };
  const device = new Device({ deviceId, realm: "test", interfaces: [Sensors.json, changed] });
  await using _ = device;
  const error = assertThrows(
    () => typedDevice(device, [Sensors, Settings, Commands]),
    AstarteError,
  );
  assertEquals(error.code, "interface-mismatch");
  assert(error.message.includes(`"${Settings.name}" was loaded as v0.9`), error.message);
  assert(error.message.includes(`"${Commands.name}" is not loaded`), error.message);
  assert(!error.message.includes(`"${Sensors.name}"`), error.message);
});

Deno.test("typedDevice() refuses what is not a generated constant, and repeated interfaces", async () => {
  const device = new Device({ deviceId, realm: "test", interfaces: [Sensors.json] });
  await using _ = device;
  assertThrows(
    () => typedDevice(device, Sensors.json as unknown as TypedInterface),
    TypeError,
    "expected constants of a generated interface module",
  );
  assertThrows(() => typedDevice(device, [Sensors, Sensors]), TypeError, "is given twice");
});

Deno.test("typed onData() passes on only the typed interfaces' data, with its endpoint", async () => {
  const { astarte, device } = await connected();
  await using _ = device;
  const typed = typedDevice(device, [Commands, Status]);
  const settings = typedDevice(device, Settings);
  const all = collect<IncomingData>((l) => device.onData(l), 5);
  const typedData = collect<Seen>((l) => typed.onData(l), 3);
  const settingsData = collect<Seen>((l) => settings.onData(l), 2);

  astarte.send(deviceId, Commands.name, "/general/text", "hello");
  astarte.setProperty(deviceId, Settings.name, "/led/3/enabled", true);
  astarte.sendAggregate(deviceId, Status.name, "/pump", { code: 7 });
  astarte.unsetProperty(deviceId, Settings.name, "/led/3/enabled");
  astarte.send(deviceId, Commands.name, "/stats/counter", 5);

  assertEquals((await all).length, 5);
  const strip = ({ interfaceName, endpoint, path, value, type }: Seen) => [
    interfaceName,
    endpoint,
    path,
    value,
    type,
  ];
  assertEquals((await typedData).map(strip), [
    [Commands.name, "/%{channel}/text", "/general/text", "hello", "datastream"],
    [Status.name, "/%{unit}", "/pump", { code: 7 }, "datastream"],
    [Commands.name, "/stats/counter", "/stats/counter", 5n, "datastream"],
  ]);
  assertEquals((await settingsData).map(strip), [
    [Settings.name, "/led/%{led}/enabled", "/led/3/enabled", true, "properties"],
    [Settings.name, "/led/%{led}/enabled", "/led/3/enabled", undefined, "properties"],
  ]);
  assert((await typedData).every((d) => d.timestamp instanceof Date));
});

Deno.test("typed incoming() subscribes at the call, filters, and ends on return() or abort", async () => {
  const { astarte, device } = await connected();
  await using _ = device;
  const commands = typedDevice(device, Commands);
  const iterator = commands.incoming();
  // Sent before the first next(): still delivered, because the view subscribed at the call.
  astarte.setProperty(deviceId, Settings.name, "/rate", 5);
  astarte.send(deviceId, Commands.name, "/a/text", "first");
  astarte.send(deviceId, Commands.name, "/b/payload", new Uint8Array([1]));
  const first = await iterator.next();
  assertEquals(first.done ? undefined : [first.value.endpoint, first.value.value], [
    "/%{channel}/text",
    "first",
  ]);
  const second = await iterator.next();
  assertEquals(second.done ? undefined : second.value.value, new Uint8Array([1]));
  assertEquals(await iterator.return?.(), { done: true, value: undefined });
  assertEquals((await iterator.next()).done, true);

  const controller = new AbortController();
  const several = typedDevice(device, allInterfaces);
  const seen: string[] = [];
  const loop = (async () => {
    for await (const data of several.incoming({ signal: controller.signal })) {
      seen.push(`${data.interfaceName} ${data.path}`);
      if (seen.length === 2) controller.abort();
    }
  })();
  astarte.setProperty(deviceId, Settings.name, "/rate", 6);
  astarte.sendAggregate(deviceId, Status.name, "/u", { code: 1, message: "ok" });
  await loop;
  assertEquals(seen, [`${Settings.name} /rate`, `${Status.name} /u`]);
});
