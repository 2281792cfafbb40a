/**
 * The fake Astarte tells the truth about refusals: it logs them with the Astarte device-error
 * name, records them in `deviceErrors()`, and the in-memory channel carries the reason of a
 * forced disconnection to the device's `onError`.
 */
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { Device } from "../src/device.ts";
import type { AstarteError } from "../src/errors.ts";
import { parseInterface } from "../src/interface/interface.ts";
import { FakeAstarte } from "./fake_astarte.ts";
import { RealmServer } from "./realm_server.ts";

const DEVICE_ID = "ABEiM0RVZneImaq7zN3u_w";
const VALUES = parseInterface({
  interface_name: "org.example.Values",
  version_major: 1,
  version_minor: 0,
  type: "datastream",
  ownership: "device",
  mappings: [{ endpoint: "/%{id}/value", type: "double", reliability: "guaranteed" }],
});
const MISSING = parseInterface({
  interface_name: "org.example.Missing",
  version_major: 1,
  version_minor: 0,
  type: "properties",
  ownership: "device",
  mappings: [{ endpoint: "/name", type: "string" }],
});

interface RecordingLogger {
  readonly lines: string[];
  readonly logger: Record<string, (m: string) => void>;
  /** Resolves once a line equal to `line` was logged. */
  waitFor(line: string): Promise<void>;
}

function recordingLogger(): RecordingLogger {
  const lines: string[] = [];
  const waiters: { line: string; resolve: () => void }[] = [];
  const at = (level: string) => (message: string) => {
    const line = `${level} ${message}`;
    lines.push(line);
    for (const w of waiters.filter((w) => w.line === line)) w.resolve();
  };
  return {
    lines,
    logger: { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") },
    waitFor: (line) =>
      lines.includes(line)
        ? Promise.resolve()
        : new Promise((resolve) => waiters.push({ line, resolve })),
  };
}

Deno.test("FakeAstarte logs a refused introspection with its device-error name and the device's onError carries it", async () => {
  const { lines, logger } = recordingLogger();
  const astarte = new FakeAstarte({ interfaces: [VALUES], logger });
  await using device = new Device({
    deviceId: DEVICE_ID,
    realm: astarte.realm,
    transport: astarte.transport(DEVICE_ID),
    interfaces: [VALUES, MISSING],
    session: { maxConsecutiveKicks: 1, backoff: { initialDelayMs: 1, maxDelayMs: 2 } },
  });
  const kicks: AstarteError[] = [];
  device.onError((error) => {
    if (error.code === "server-kick") kicks.push(error);
  });
  await device.connect().catch(() => {});

  const expected = "interface_loading_failed: org.example.Missing:1 not installed in realm test";
  assert(kicks.length > 0, "the kick reached onError");
  assertStringIncludes(kicks[0]!.message, expected);
  assertEquals(astarte.deviceErrors(DEVICE_ID)[0], {
    name: "interface_loading_failed",
    topic: `test/${DEVICE_ID}/control/emptyCache`,
    message: "org.example.Missing:1 not installed in realm test",
  });
  assert(
    lines.includes(`warn test/${DEVICE_ID} refused ${expected}`),
    `no refusal line in:\n${lines.join("\n")}`,
  );
  assert(lines.includes(`warn test/${DEVICE_ID} kicked: ${expected}`), lines.join("\n"));
  assert(lines.some((l) => l.startsWith(`info test/${DEVICE_ID} connected`)), lines.join("\n"));
  assert(lines.includes(`info test/${DEVICE_ID} disconnected`), lines.join("\n"));
  assert(
    lines.includes(
      `info test/${DEVICE_ID} introspection org.example.Values:1:0;org.example.Missing:1:0`,
    ) || lines.includes(
      `info test/${DEVICE_ID} introspection org.example.Missing:1:0;org.example.Values:1:0`,
    ),
    lines.join("\n"),
  );
});

Deno.test("FakeAstarte logs a refused connection and a test-initiated disconnection", async () => {
  const { lines, logger, waitFor } = recordingLogger();
  const astarte = new FakeAstarte({ interfaces: [VALUES], logger });
  await using device = new Device({
    deviceId: DEVICE_ID,
    realm: astarte.realm,
    transport: astarte.transport(DEVICE_ID),
    interfaces: [VALUES],
    session: { backoff: { initialDelayMs: 1, maxDelayMs: 5 } },
  });
  await device.connect();
  const lost = new Promise<AstarteError>((resolve) => device.onError(resolve));
  astarte.setAvailable(false);
  astarte.kick(DEVICE_ID, { dropSession: false });
  assertStringIncludes((await lost).message, "disconnected by the test");
  assert(lines.includes(`info test/${DEVICE_ID} kicked: disconnected by the test`));
  // The device retries while the broker refuses it.
  await waitFor(`warn test/${DEVICE_ID} connection refused: broker unavailable`);
});

Deno.test("RealmServer bounds the received log, the device errors and the datastream history", async () => {
  const server = new RealmServer("r", [VALUES], {
    receivedLimit: 3,
    historyLimit: 2,
    errorLimit: 2,
  });
  const link = { publish: () => true, disconnect: () => {} };
  const base = `r/${DEVICE_ID}`;
  await server.handlePublish(
    DEVICE_ID,
    `${base}`,
    new TextEncoder().encode("org.example.Values:1:0"),
    2,
    link,
  );
  const { encodeIndividualPayload } = await import("../src/codec/bson.ts");
  for (let i = 0; i < 5; i++) {
    await server.handlePublish(
      DEVICE_ID,
      `${base}/org.example.Values/a/value`,
      encodeIndividualPayload("double", i),
      1,
      link,
    );
  }
  assertEquals(server.received(DEVICE_ID).map((m) => m.value), [2, 3, 4]);
  const history = server.datastreamValues(DEVICE_ID).get("org.example.Values/a/value");
  assertEquals(history?.map((s) => s.value), [3, 4]);
  assertEquals(server.traffic(DEVICE_ID).byInterface.get("org.example.Values")?.messages, 5);
  for (const name of ["A", "B", "C"]) {
    await server.handlePublish(
      DEVICE_ID,
      `${base}/org.example.${name}/x`,
      new Uint8Array(),
      2,
      link,
    );
  }
  assertEquals(
    server.deviceErrors(DEVICE_ID).map((e) => e.message),
    [
      "org.example.B is not in the device introspection",
      "org.example.C is not in the device introspection",
    ],
  );
});
