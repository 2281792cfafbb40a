/**
 * Dispatch of messages received from the server (spec 9): consumer purge lists, server-owned
 * property sets/unsets and datastream samples. Anything malformed is reported and dropped; the
 * connection is never closed for it (checklist 31-32).
 *
 * @module
 */
import { decodeEnvelope, decodeObjectValue, decodeValue } from "./bson.ts";
import { AstarteError } from "./errors.ts";
import type { Interface } from "./interface.ts";
import { decodePurgeProperties, parseIncomingTopic } from "./protocol.ts";
import type { TransportMessage } from "./transport.ts";
import type { ReceivedObject, ReceivedValue } from "./values.ts";
import type { PropertyCache } from "./_property_cache.ts";

/** Data received from the server. */
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
        error instanceof AstarteError ? error : new AstarteError(
          "malformed-message",
          `Dropped message on "${message.topic}": ${(error as Error)?.message ?? error}`,
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

  #malformed(topic: string, why: string, cause?: unknown): AstarteError {
    return new AstarteError("malformed-message", `Dropped message on "${topic}": ${why}`, {
      cause,
    });
  }

  #dispatch({ topic, payload }: TransportMessage): void {
    const o = this.#o;
    const kind = parseIncomingTopic(o.base, topic);
    if (kind?.kind === "control" && kind.path === "/consumer/properties") {
      const entries = decodePurgeProperties(payload);
      const keep = new Set(entries);
      const names = new Set(o.interfaces.keys());
      this.#serial(() => o.properties.purgeServer(keep, names));
      return;
    }
    if (kind?.kind !== "data") throw this.#malformed(topic, "unexpected topic");
    const { interfaceName, path } = kind;
    const iface = o.interfaces.get(interfaceName);
    if (!iface) {
      throw this.#malformed(topic, `interface "${interfaceName}" is not in introspection`);
    }
    if (iface.ownership !== "server") {
      throw this.#malformed(topic, `interface "${interfaceName}" is device-owned`);
    }
    const envelope = decodeEnvelope(payload);
    const received = new Date(o.now());
    const ctx = { interfaceName, path };
    if (iface.aggregation === "object") {
      const mappings = iface.objectMappingsFor(path);
      if (!mappings) throw this.#malformed(topic, `no object path "${path}" in "${interfaceName}"`);
      if (envelope.unset) throw this.#malformed(topic, "unset on a datastream");
      const value = decodeObjectValue(mappings, envelope.value, ctx);
      const timestamp = envelope.timestamp ?? received;
      this.#serial(() => o.emit({ interfaceName, path, value, timestamp, type: iface.type }));
      return;
    }
    const mapping = iface.mappingFor(path);
    if (!mapping) throw this.#malformed(topic, `no mapping for "${path}" in "${interfaceName}"`);
    if (iface.type === "datastream") {
      if (envelope.unset) throw this.#malformed(topic, "unset on a datastream");
      const value = decodeValue(mapping.type, envelope.value, ctx);
      const timestamp = envelope.timestamp ?? received;
      this.#serial(() => o.emit({ interfaceName, path, value, timestamp, type: iface.type }));
      return;
    }
    // Server-owned property: a `t` is meaningless and ignored (spec 6.6).
    if (envelope.unset) {
      if (!mapping.allowUnset) {
        throw this.#malformed(topic, `unset of "${path}" whose mapping does not allow_unset`);
      }
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
