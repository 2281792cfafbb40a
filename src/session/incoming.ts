/**
 * Dispatch of messages received from the server (protocol reference §9): consumer purge lists, server-owned
 * property sets/unsets and datastream samples. Payloads and values are checked with the rules of
 * values sent (`bson.ts`, `validate.ts`). Anything malformed is reported through `onError` as a
 * `MalformedMessageError` naming interface, path and rule, and dropped before it reaches the
 * application or the property cache; the connection is never closed for it (protocol checklist 31-32).
 *
 * @module
 */
import { decodeEnvelope, decodeObjectValue, decodeValue } from "../codec/bson.ts";
import { listEndpoints } from "../codec/_checks.ts";
import { AstarteError, MalformedMessageError } from "../errors.ts";
import type { Interface } from "../interface/interface.ts";
import { decodePurgeProperties, parseIncomingTopic } from "./protocol.ts";
import type { TransportMessage } from "../contracts/transport.ts";
import type { ReceivedObject, ReceivedValue } from "../codec/values.ts";
import type { PropertyCache } from "./property_cache.ts";

/**
 * Data received from the server.
 *
 * @example
 * ```ts
 * import type { Device, IncomingData } from "@astarte-deno/device-sdk";
 * function show(data: IncomingData): string {
 *   const where = `${data.interfaceName}${data.path}`;
 *   return data.value === undefined ? `${where} unset` : `${where} = ${String(data.value)}`;
 * }
 * export function printIncoming(device: Device): void {
 *   device.onData((data) => console.log(show(data)));
 * }
 * ```
 */
export interface IncomingData {
  /** Interface name. */
  readonly interfaceName: string;
  /** Concrete path (individual) or object path (object aggregation). */
  readonly path: string;
  /**
   * The value: a scalar or array, an object for object aggregation, or `undefined` when a
   * property was unset.
   */
  readonly value: ReceivedValue | ReceivedObject | undefined;
  /** The explicit timestamp when the server sent one, else the reception time. */
  readonly timestamp: Date;
  /** `datastream` or `properties`. */
  readonly type: "datastream" | "properties";
}

/** What the dispatcher needs from the device. */
export interface DispatcherOptions {
  readonly base: string;
  readonly interfaces: ReadonlyMap<string, Interface>;
  readonly properties: PropertyCache;
  readonly now: () => number;
  readonly emit: (data: IncomingData) => void;
  readonly report: (error: AstarteError) => void;
}

/** Routes incoming messages. Property writes are serialised so the cache follows arrival order. */
export class IncomingDispatcher {
  readonly #o: DispatcherOptions;
  #chain: Promise<void> = Promise.resolve();

  /** @param options device callbacks and state */
  constructor(options: DispatcherOptions) {
    this.#o = options;
  }

  /** Handles one message; never throws. */
  dispatch(message: TransportMessage): void {
    try {
      this.#dispatch(message);
    } catch (error) {
      this.#o.report(
        error instanceof AstarteError ? error : new MalformedMessageError(
          { topic: message.topic, rule: `${(error as Error)?.message ?? error}` },
          { cause: error },
        ),
      );
    }
  }

  /** Runs cache updates and events in arrival order, reporting store failures. */
  #serial(task: () => Promise<void> | void): void {
    this.#chain = this.#chain.then(task).catch((error) =>
      this.#o.report(
        error instanceof AstarteError
          ? error
          : new AstarteError("store-failed", "Cannot update the property cache", { cause: error }),
      )
    );
  }

  /** The server's purge list: server properties it does not name are deleted. */
  #purge(topic: string, payload: Uint8Array): void {
    const o = this.#o;
    let entries: string[];
    try {
      entries = decodePurgeProperties(payload);
    } catch (cause) {
      throw new MalformedMessageError({ topic, rule: `${(cause as Error)?.message ?? cause}` }, {
        cause,
      });
    }
    const keep = new Set(entries);
    const names = new Set(o.interfaces.keys());
    this.#serial(() => o.properties.purgeServer(keep, names));
  }

  #dispatch({ topic, payload }: TransportMessage): void {
    const o = this.#o;
    const kind = parseIncomingTopic(o.base, topic);
    if (kind?.kind === "control" && kind.path === "/consumer/properties") {
      return this.#purge(topic, payload);
    }
    if (kind?.kind !== "data") {
      throw new MalformedMessageError({
        topic,
        rule: "the topic is not a data topic or a control topic the device subscribes to",
      });
    }
    const { interfaceName, path } = kind;
    const ctx = { topic, interfaceName, path };
    const refuse = (rule: string) => new MalformedMessageError({ ...ctx, rule });
    const iface = o.interfaces.get(interfaceName);
    if (!iface) throw refuse("the interface is not in the introspection");
    if (iface.ownership !== "server") {
      throw refuse("the interface is device-owned: the server may not write it");
    }
    const resolution = iface.resolve(path);
    const unresolved = (expected: string) =>
      refuse(
        resolution.kind === "invalid"
          ? resolution.reason
          : `${expected} (the endpoints are ${listEndpoints(iface)})`,
      );
    if (iface.aggregation === "object") {
      if (resolution.kind !== "object") throw unresolved("the path is not an object path");
      const mappings = resolution.mappings;
      const envelope = decodeEnvelope(payload, ctx);
      if (envelope.unset) {
        throw refuse("an unset (empty payload, null v or empty binary v) on a datastream");
      }
      const value = decodeObjectValue(mappings, envelope.value, ctx);
      const timestamp = envelope.timestamp ?? new Date(o.now());
      this.#serial(() => o.emit({ interfaceName, path, value, timestamp, type: iface.type }));
      return;
    }
    if (resolution.kind !== "mapping") throw unresolved("no endpoint matches the path");
    const mapping = resolution.mapping;
    const envelope = decodeEnvelope(payload, ctx);
    const received = new Date(o.now());
    if (iface.type === "datastream") {
      if (envelope.unset) {
        throw refuse("an unset (empty payload, null v or empty binary v) on a datastream");
      }
      const value = decodeValue(mapping.type, envelope.value, ctx);
      const timestamp = envelope.timestamp ?? received;
      this.#serial(() => o.emit({ interfaceName, path, value, timestamp, type: iface.type }));
      return;
    }
    // Server-owned property: a `t` is meaningless and ignored (protocol reference §6.6).
    if (envelope.unset) {
      if (!mapping.allowUnset) throw refuse("an unset of a mapping without allow_unset");
      this.#serial(async () => {
        const deleting = o.properties.delete("server", interfaceName, path);
        o.emit({ interfaceName, path, value: undefined, timestamp: received, type: iface.type });
        await deleting;
      });
      return;
    }
    const value = decodeValue(mapping.type, envelope.value, ctx);
    this.#serial(async () => {
      // The cache is updated synchronously by put(), so listeners already see the new value.
      const writing = o.properties.put(iface, "server", path, payload.slice(), "delivered", value);
      o.emit({ interfaceName, path, value, timestamp: received, type: iface.type });
      await writing;
    });
  }
}
