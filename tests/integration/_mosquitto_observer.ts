/**
 * Test helper: the Astarte side of the mosquitto tests, a privileged MQTT client that records
 * every message a device publishes (and can publish server-owned data through `transport`).
 *
 * @module
 */
import { MqttTransport } from "../../plugins/mqtt/mod.ts";
import type { TransportMessage } from "../../src/contracts/transport.ts";
import type { TestCa, TestKeyPair } from "../_certs.ts";
import { listen, type Listened } from "../_listen.ts";

/** A privileged client recording every message on its topic filters. */
export class Observer {
  /** Every message recorded so far, in arrival order. */
  readonly messages: TransportMessage[] = [];
  readonly transport: Listened<MqttTransport>;
  readonly #filters: readonly string[];
  #waiters: (() => void)[] = [];

  /**
   * @param ca CA of the broker
   * @param cert certificate of an identity the broker's ACL lets read every topic
   * @param url the broker URL, read at each connection (the broker may restart elsewhere)
   * @param filters topic filters to record
   */
  constructor(
    ca: TestCa,
    cert: Pick<TestKeyPair, "certificatePem" | "privateKeyPem">,
    url: () => string,
    filters: readonly string[],
  ) {
    this.#filters = filters;
    this.transport = listen(
      new MqttTransport({
        ca: ca.caPem,
        credentials: () => Promise.resolve({ brokerUrl: url(), ...cert }),
      }),
      {
        onMessage: (message) => {
          this.messages.push(message);
          for (const wake of this.#waiters.splice(0)) wake();
        },
        onConnectionLost: () => {},
      },
    );
  }

  /** Connects (again) and subscribes. */
  async start(): Promise<void> {
    await this.transport.connect({ realm: "astarte", deviceId: "server", cleanSession: true });
    await this.transport.subscribe([...this.#filters]);
  }

  /** Resolves once a recorded message satisfies `predicate`. */
  async waitFor(predicate: (m: TransportMessage) => boolean): Promise<TransportMessage> {
    for (;;) {
      const found = this.messages.find(predicate);
      if (found) return found;
      await this.#next();
    }
  }

  /** Resolves once `count` recorded messages satisfy `predicate`. */
  async waitForCount(predicate: (m: TransportMessage) => boolean, count: number): Promise<void> {
    while (this.messages.filter(predicate).length < count) await this.#next();
  }

  #next(): Promise<void> {
    return new Promise<void>((resolve) => this.#waiters.push(resolve));
  }
}
