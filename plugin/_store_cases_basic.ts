/**
 * Steps of the `Store` conformance suite (`store_contract.ts`) for what every store has, the
 * required property store, and the synced-introspection and credentials capabilities. Private
 * to the plugin kit.
 *
 * @module
 */
import { storeCapabilities } from "../src/contracts/store.ts";
import {
  allBytes,
  assert,
  assertEquals,
  assertStrictEquals,
  IFACE,
  OTHER,
  plainProperties,
  property,
  sortedProperties,
  type StoreCase,
} from "./_store_suite.ts";

/** What every store has: capabilities, name and flags, an empty start. */
export const BASIC_CASES: readonly StoreCase[] = [
  {
    title: `has whole capabilities (all methods of each, outgoing only with samples)`,
    fn: async ({ caps, create }) => {
      const fixture = await create();
      try {
        assertEquals([...storeCapabilities(fixture.store)].sort(), [...caps].sort());
      } finally {
        await fixture.store[Symbol.asyncDispose]();
        await fixture.cleanup();
      }
    },
  },
  {
    title: `has a name and the expected persistent flag`,
    fn: async ({ create, persistent }) => {
      const fixture = await create();
      try {
        assertStrictEquals(typeof fixture.store.name, "string");
        assert(fixture.store.name.length > 0, "name must not be empty");
        assertStrictEquals(fixture.store.persistent, persistent);
        assertStrictEquals(fixture.reopen !== undefined, persistent, "reopen iff persistent");
      } finally {
        await fixture.store[Symbol.asyncDispose]();
        await fixture.cleanup();
      }
    },
  },
  {
    title: `starts empty`,
    fn: ({ caps, withStore }) =>
      withStore(async (store) => {
        assertEquals(await store.loadProperties(), []);
        if (caps.has("introspection")) {
          assertStrictEquals(await store.loadSyncedIntrospection(), undefined);
        }
        if (caps.has("samples")) {
          assertEquals(await store.listSamples(10), []);
          assertStrictEquals(await store.countSamples(), 0);
        }
        if (caps.has("outgoing")) assertEquals(await store.listOutgoing(), []);
        if (caps.has("credentials")) assertStrictEquals(await store.loadCredentials(), undefined);
      }),
  },
  {
    title: `corruption is absent or empty for a new store`,
    fn: ({ withStore }) =>
      withStore((store) => {
        const corruption = store.corruption;
        if (corruption !== undefined) {
          assert(Array.isArray(corruption), "corruption must be an array");
          assertStrictEquals(corruption.length, 0);
        }
        return Promise.resolve();
      }),
  },
];

/** The required property store. */
export const PROPERTY_CASES: readonly StoreCase[] = [
  {
    title: `putProperty() inserts and replaces by ownership, interface and path`,
    fn: ({ withStore }) =>
      withStore(async (store) => {
        const a = property();
        const b = property({ path: "/led/brightness" });
        await store.putProperty(a);
        await store.putProperty(b);
        const replaced = property({ major: 2, payload: new Uint8Array([7]), state: "pending" });
        await store.putProperty(replaced);
        assertEquals(plainProperties(await store.loadProperties()), plainProperties([b, replaced]));
      }),
  },
  {
    title: `putProperty() keeps empty payloads, major 0 and all three delivery states`,
    fn: ({ withStore }) =>
      withStore(async (store) => {
        const records = [
          property({ path: "/a", state: "delivered", major: 0 }),
          property({ path: "/b", state: "pending", payload: allBytes() }),
          property({ path: "/c", state: "pending-unset", payload: new Uint8Array(0) }),
          property({ path: "/0", ownership: "server", payload: new Uint8Array([0]) }),
        ];
        for (const r of records) await store.putProperty(r);
        const loaded = await sortedProperties(store);
        assertEquals(plainProperties(loaded), plainProperties(records));
        const unset = loaded.find((r) => r.path === "/c");
        assertStrictEquals(unset?.payload.length, 0);
        assertStrictEquals(unset?.state, "pending-unset");
        assertStrictEquals(loaded.find((r) => r.path === "/a")?.major, 0);
      }),
  },
  {
    title: `putProperty() keeps device and server properties on one path apart`,
    fn: ({ withStore }) =>
      withStore(async (store) => {
        const device = property({ ownership: "device", payload: new Uint8Array([1]) });
        const server = property({ ownership: "server", payload: new Uint8Array([2]) });
        await store.putProperty(device);
        await store.putProperty(server);
        assertEquals(
          plainProperties(await store.loadProperties()),
          plainProperties([device, server]),
        );
        await store.deleteProperty("server", IFACE, device.path);
        assertEquals(plainProperties(await store.loadProperties()), plainProperties([device]));
      }),
  },
  {
    title: `deleteProperty() removes one property and ignores unknown ones`,
    fn: ({ withStore }) =>
      withStore(async (store) => {
        const a = property({ path: "/a" });
        const b = property({ path: "/b" });
        await store.putProperty(a);
        await store.putProperty(b);
        await store.deleteProperty("device", IFACE, "/a");
        await store.deleteProperty("device", IFACE, "/missing");
        await store.deleteProperty("device", "org.example.Unknown", "/b");
        assertEquals(plainProperties(await store.loadProperties()), plainProperties([b]));
      }),
  },
  {
    title: `deleteInterfaceProperties() removes both ownerships of that interface only`,
    fn: ({ withStore }) =>
      withStore(async (store) => {
        const kept = [
          property({ interfaceName: OTHER }),
          property({ interfaceName: OTHER, ownership: "server" }),
        ];
        await store.putProperty(property({ path: "/x" }));
        await store.putProperty(property({ path: "/y", ownership: "server" }));
        for (const r of kept) await store.putProperty(r);
        await store.deleteInterfaceProperties(IFACE);
        await store.deleteInterfaceProperties("org.example.Unknown");
        assertEquals(plainProperties(await store.loadProperties()), plainProperties(kept));
      }),
  },
  {
    title: `putProperty() copies payloads in and out`,
    fn: ({ withStore }) =>
      withStore(async (store) => {
        const backing = new Uint8Array([100, 1, 2, 3, 100]);
        await store.putProperty(property({ payload: backing.subarray(1, 4) }));
        backing.fill(0);
        const [loaded] = await store.loadProperties();
        assertEquals(Uint8Array.from(loaded?.payload ?? []), new Uint8Array([1, 2, 3]));
        loaded?.payload.fill(0);
        const [again] = await store.loadProperties();
        assertEquals(Uint8Array.from(again?.payload ?? []), new Uint8Array([1, 2, 3]));
      }),
  },
];

/** The synced-introspection capability. */
export const INTROSPECTION_CASES: readonly StoreCase[] = [
  {
    title: `saveSyncedIntrospection() replaces the value and keeps ""`,
    needs: ["introspection"],
    fn: async ({ withStore }) => {
      await withStore(async (store) => {
        await store.saveSyncedIntrospection("org.example.A:1:0;org.example.B:0:2");
        assertStrictEquals(
          await store.loadSyncedIntrospection(),
          "org.example.A:1:0;org.example.B:0:2",
        );
        await store.saveSyncedIntrospection("");
        assertStrictEquals(await store.loadSyncedIntrospection(), "");
      });
    },
  },
];

/** The credentials capability. */
export const CREDENTIAL_CASES: readonly StoreCase[] = [
  {
    title: `saveCredentials() round-trips and replaces credentials`,
    needs: ["credentials"],
    fn: ({ withStore }) =>
      withStore(async (store) => {
        const full = {
          credentialsSecret: "c2VjcmV0LXNlY3JldC1zZWNyZXQ=",
          privateKeyPem: "-----BEGIN PRIVATE KEY-----\nMIGH\n-----END PRIVATE KEY-----\n",
          certificatePem: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
          brokerUrl: "mqtts://broker.example.com:8883",
        };
        await store.saveCredentials(full);
        assertEquals({ ...await store.loadCredentials() }, full);
        await store.saveCredentials({ credentialsSecret: "" });
        assertEquals({ ...await store.loadCredentials() }, { credentialsSecret: "" });
        await store.saveCredentials({});
        assertEquals({ ...await store.loadCredentials() }, {});
      }),
  },
];
