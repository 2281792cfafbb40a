/**
 * `watch`: connects a device and prints the data the server sends to it as it arrives, one line
 * per message (or JSON lines), until Ctrl-C, `--count` messages or `--timeout`.
 *
 * @module
 */
import type { IncomingData } from "../mod.ts";
import { CommandFailure } from "./_args.ts";
import type { Command } from "./_command.ts";
import { connectDevice, CONNECTION_OPTIONS, interfacesOption, openDevice } from "./_device.ts";
import { describeError, formatValue, type Output } from "./_io.ts";

function print(out: Output, data: IncomingData, json: boolean): void {
  if (json) {
    out.json({
      interface: data.interfaceName,
      path: data.path,
      type: data.type,
      value: data.value ?? null,
      unset: data.value === undefined,
      timestamp: data.timestamp,
    });
  } else {
    out.line(
      `${data.timestamp.toISOString()}  ${data.interfaceName} ${data.path} ${
        data.value === undefined ? "unset" : `= ${formatValue(data.value)}`
      }`,
    );
  }
}

/** The `watch` command. */
export const watchCommand: Command = {
  name: "watch",
  summary: "Print the data the server sends to a device as it arrives",
  description: "Connects the device with every interface of --interfaces and prints each " +
    "server datastream value and server property change (or unset) as one line, or as one " +
    "JSON object per line with --json, until Ctrl-C, --count messages or --timeout. Connection " +
    "problems are reported on stderr; the device keeps reconnecting.",
  options: {
    ...CONNECTION_OPTIONS,
    count: { type: "string", short: "n", value: "N", help: "Stop after N messages" },
    timeout: {
      type: "string",
      value: "DURATION",
      help: "Stop after this long (with --count, not getting N messages in time is a failure)",
    },
    "connect-timeout": {
      type: "string",
      value: "DURATION",
      help: "Give up connecting after this long (default 30s)",
    },
    json: {
      type: "boolean",
      help: "Print JSON lines: {interface, path, type, value, unset, timestamp}",
    },
  },
  examples: [
    "watch --interfaces ./interfaces",
    "watch --count 1 --timeout 60s --json",
  ],
  async run({ values }, ctx) {
    const count = values.given("count") ? values.integer("count", 0, { min: 1 }) : undefined;
    const timeoutMs = values.given("timeout") ? values.duration("timeout", 0) : undefined;
    const connectTimeoutMs = values.duration("connect-timeout", 30_000);
    const json = values.flag("json");
    const interfaces = await interfacesOption(values);
    await using cli = await openDevice(values, interfaces);
    const { device } = cli;
    let received = 0;
    let done!: (reason: "count" | "timeout" | "signal") => void;
    const finished = new Promise<"count" | "timeout" | "signal">((resolve) => (done = resolve));
    device.onData((data) => {
      if (count !== undefined && received >= count) return;
      received++;
      print(ctx.out, data, json);
      if (received === count) done("count");
    });
    const started = Date.now();
    await connectDevice(cli, connectTimeoutMs, ctx);
    const stopWarnings = device.onError((error) => ctx.out.warn(describeError(error)));
    const stopStates = device.onStateChange((state) => ctx.out.note(`note: connection ${state}`));
    const onAbort = () => done("signal");
    ctx.signal.addEventListener("abort", onAbort, { once: true });
    if (ctx.signal.aborted) done("signal");
    const remaining = timeoutMs === undefined ? undefined : timeoutMs - (Date.now() - started);
    const timer = remaining === undefined
      ? undefined
      : setTimeout(() => done("timeout"), Math.max(0, remaining));
    ctx.out.note(
      `watching ${device.realm}/${device.deviceId} (${interfaces.length} interfaces)${
        count === undefined ? "" : `, until ${count} message${count === 1 ? "" : "s"}`
      }; Ctrl-C to stop`,
    );
    try {
      const why = await finished;
      if (why === "timeout" && count !== undefined && received < count) {
        throw new CommandFailure(
          `Received ${received} of ${count} messages within ${timeoutMs! / 1000} s`,
        );
      }
      return 0;
    } finally {
      clearTimeout(timer);
      ctx.signal.removeEventListener("abort", onAbort);
      stopWarnings();
      stopStates();
    }
  },
};
