import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertStrictEquals,
  assertStringIncludes,
  assertThrows,
  fail,
} from "@std/assert";
import { InterfaceError } from "../errors.ts";
import {
  type Interface,
  isValidInterfaceName,
  type Mapping,
  parseInterface,
  type PathResolution,
} from "./interface.ts";
import { ASTARTE_TYPES } from "../codec/values.ts";

type Doc = Record<string, unknown> & { mappings: Record<string, unknown>[] };

/** Minimal valid documents; each test mutates a fresh copy to break one rule. */
const DATASTREAM: Doc = {
  interface_name: "org.example.Test",
  version_major: 1,
  version_minor: 0,
  type: "datastream",
  ownership: "device",
  mappings: [{ endpoint: "/%{sensor}/value", type: "double" }],
};
const PROPERTIES: Doc = {
  interface_name: "org.example.Props",
  version_major: 0,
  version_minor: 1,
  type: "properties",
  ownership: "server",
  mappings: [{ endpoint: "/led/%{id}/enabled", type: "boolean" }],
};
const OBJECT: Doc = {
  interface_name: "org.example.Climate",
  version_major: 1,
  version_minor: 2,
  type: "datastream",
  ownership: "device",
  aggregation: "object",
  mappings: [
    { endpoint: "/%{room}/temperature", type: "double" },
    { endpoint: "/%{room}/humidity", type: "double" },
  ],
};

function make(base: Doc, change: (doc: Doc) => void = () => {}): Doc {
  const doc = structuredClone(base);
  change(doc);
  return doc;
}

function withMappings(base: Doc, ...mappings: Record<string, unknown>[]): Doc {
  return make(base, (d) => d.mappings = mappings);
}

function rejects(doc: unknown, field: string, rule: string): InterfaceError {
  const err = assertThrows(() => parseInterface(doc), InterfaceError);
  assertEquals(err.code, "invalid-interface");
  assertEquals(err.field, field, err.message);
  assertStringIncludes(err.rule, rule);
  assertStringIncludes(err.message, `"${field}"`);
  assertStringIncludes(err.message, err.rule);
  return err;
}

const ONE_EMOJI = "\u{1F468}\u200D\u{1F469}\u200D\u{1F467}"; // a family: 8 UTF-16 units, 1 grapheme

// ---------------------------------------------------------------------------------------------
// Document

Deno.test("parseInterface() accepts an object and the same document as JSON text", () => {
  const a = parseInterface(DATASTREAM);
  const b = parseInterface(JSON.stringify(DATASTREAM));
  assertEquals(a.toJSON(), b.toJSON());
  assertEquals(a.name, "org.example.Test");
});

Deno.test("parseInterface() rejects JSON text that does not parse as field (document)", () => {
  const err = rejects("{ not json", "(document)", "is not valid JSON");
  assertEquals(err.interfaceName, undefined);
});

for (const value of [[], 42, null, undefined, "[1]", "null", true]) {
  Deno.test(`parseInterface() rejects a document that is not an object (${JSON.stringify(value)})`, () => {
    rejects(value, "(document)", "must be a JSON object");
  });
}

Deno.test("parseInterface() tolerates unknown fields on the interface and its mappings", () => {
  const iface = parseInterface(make(DATASTREAM, (d) => {
    d["x-vendor"] = { any: 1 };
    d.mappings[0]!["x-note"] = "ignored";
  }));
  assertEquals(iface.mappings.length, 1);
});

Deno.test("parseInterface() reads null optional fields as absent", () => {
  const iface = parseInterface(make(DATASTREAM, (d) => {
    d.aggregation = null;
    d.description = null;
    d.mappings[0]!.reliability = null;
  }));
  assertEquals(iface.aggregation, "individual");
  assertEquals(iface.description, undefined);
  assertEquals(iface.mappings[0]!.reliability, "unreliable");
});

// ---------------------------------------------------------------------------------------------
// interface_name

for (
  const name of [
    "org.example.Test",
    "org.astarte-platform.genericsensors.Values",
    "a.b",
    "com.1example.X", // inner components may start with a digit
    "io.edgehog.devicemanager.apps.stats.ContainerBlkio",
    "A9.b-b.C9",
  ]
) {
  Deno.test(`parseInterface() accepts the interface name "${name}"`, () => {
    assertEquals(parseInterface(make(DATASTREAM, (d) => d.interface_name = name)).name, name);
    assert(isValidInterfaceName(name));
  });
}

for (
  const [name, rule] of [
    ["Values", "at least two dot-separated components"], // DECISION: dot-less refused
    ["astarte", "is reserved"],
    ["control", "is reserved"],
    ["device", "is reserved"],
    ["", "1 to 128 characters"],
    ["com.example.", "dot-separated components"],
    [".com.example.X", "dot-separated components"],
    ["1com.example.X", "dot-separated components"],
    ["com.example.1X", "dot-separated components"],
    ["com.example.X-y", "dot-separated components"],
    ["com-x.example.Y", "dot-separated components"],
    ["com..X", "dot-separated components"],
    ["com.exa_mple.X", "dot-separated components"],
    ["com.example.X\n", "dot-separated components"],
    ["com.example X", "dot-separated components"],
  ] as const
) {
  Deno.test(`parseInterface() rejects the interface name ${JSON.stringify(name)}`, () => {
    const err = rejects(make(DATASTREAM, (d) => d.interface_name = name), "interface_name", rule);
    assertEquals(err.interfaceName, undefined);
    assert(!isValidInterfaceName(name));
  });
}

Deno.test("parseInterface() accepts a 128-character name and rejects a 129-character one", () => {
  const name128 = "a." + "b".repeat(126);
  assertEquals(parseInterface(make(DATASTREAM, (d) => d.interface_name = name128)).name, name128);
  rejects(
    make(DATASTREAM, (d) => d.interface_name = name128 + "c"),
    "interface_name",
    "1 to 128 characters long (got 129)",
  );
});

Deno.test("parseInterface() rejects a missing or non-string interface_name", () => {
  rejects(make(DATASTREAM, (d) => delete d.interface_name), "interface_name", "is required");
  rejects(make(DATASTREAM, (d) => d.interface_name = 7), "interface_name", "must be a string");
});

// ---------------------------------------------------------------------------------------------
// Versions

for (
  const [major, minor] of [[0, 1], [1, 0], [2147483647, 2147483647], [3, 7]] as const
) {
  Deno.test(`parseInterface() accepts version ${major}.${minor}`, () => {
    const iface = parseInterface(make(DATASTREAM, (d) => {
      d.version_major = major;
      d.version_minor = minor;
    }));
    assertEquals([iface.major, iface.minor], [major, minor]);
  });
}

Deno.test("parseInterface() rejects version 0.0 on version_minor", () => {
  rejects(
    make(DATASTREAM, (d) => {
      d.version_major = 0;
      d.version_minor = 0;
    }),
    "version_minor",
    "greater than 0 when version_major is 0",
  );
});

for (const field of ["version_major", "version_minor"]) {
  for (const bad of [-1, 1.5, "1", 2147483648, true]) {
    Deno.test(`parseInterface() rejects ${field} = ${JSON.stringify(bad)}`, () => {
      rejects(make(DATASTREAM, (d) => d[field] = bad), field, "must be an integer from 0 to");
    });
  }
  Deno.test(`parseInterface() rejects a missing ${field}`, () => {
    rejects(make(DATASTREAM, (d) => delete d[field]), field, "is required");
  });
}

// ---------------------------------------------------------------------------------------------
// type, ownership, aggregation

Deno.test("parseInterface() rejects a missing or unknown type", () => {
  rejects(make(DATASTREAM, (d) => delete d.type), "type", "is required");
  rejects(make(DATASTREAM, (d) => d.type = "property"), "type", `"datastream", "properties"`);
});

for (
  const [value, expected] of [
    ["device", "device"],
    ["server", "server"],
    ["producer", "device"],
    ["consumer", "server"],
  ] as const
) {
  Deno.test(`parseInterface() reads ownership "${value}" as ${expected}`, () => {
    assertEquals(parseInterface(make(DATASTREAM, (d) => d.ownership = value)).ownership, expected);
  });
  Deno.test(`parseInterface() reads the legacy quality "${value}" as ${expected}`, () => {
    const iface = parseInterface(make(DATASTREAM, (d) => {
      delete d.ownership;
      d.quality = value;
    }));
    assertEquals(iface.ownership, expected);
  });
}

Deno.test("parseInterface() prefers ownership over the legacy quality", () => {
  const iface = parseInterface(make(DATASTREAM, (d) => {
    d.ownership = "server";
    d.quality = "producer";
  }));
  assertEquals(iface.ownership, "server");
});

Deno.test("parseInterface() rejects a missing, unknown or invalid ownership", () => {
  rejects(make(DATASTREAM, (d) => delete d.ownership), "ownership", "is required");
  rejects(make(DATASTREAM, (d) => d.ownership = "owner"), "ownership", `"device", "server"`);
  rejects(make(DATASTREAM, (d) => d.quality = 3), "quality", "must be one of");
});

Deno.test("parseInterface() defaults aggregation to individual", () => {
  assertEquals(parseInterface(DATASTREAM).aggregation, "individual");
  assertEquals(parseInterface(PROPERTIES).aggregation, "individual");
});

Deno.test("parseInterface() reads the legacy aggregate flag", () => {
  const object = parseInterface(make(OBJECT, (d) => {
    delete d.aggregation;
    d.aggregate = true;
  }));
  assertEquals(object.aggregation, "object");
  const individual = parseInterface(make(DATASTREAM, (d) => d.aggregate = false));
  assertEquals(individual.aggregation, "individual");
  assertEquals(parseInterface(make(OBJECT, (d) => d.aggregate = true)).aggregation, "object");
});

Deno.test("parseInterface() rejects an invalid aggregation or aggregate", () => {
  rejects(make(DATASTREAM, (d) => d.aggregation = "array"), "aggregation", "must be one of");
  rejects(make(DATASTREAM, (d) => d.aggregate = "yes"), "aggregate", "must be a boolean");
  // The server would read this combination as object-aggregated.
  rejects(
    make(DATASTREAM, (d) => {
      d.aggregation = "individual";
      d.aggregate = true;
    }),
    "aggregate",
    `must not be true when aggregation is "individual"`,
  );
});

Deno.test("parseInterface() rejects object aggregation on a properties interface", () => {
  rejects(make(PROPERTIES, (d) => d.aggregation = "object"), "aggregation", "properties");
  rejects(
    make(PROPERTIES, (d) => d.aggregate = true),
    "aggregation",
    `must be "individual" for a properties interface`,
  );
});

// ---------------------------------------------------------------------------------------------
// description and doc (grapheme clusters)

for (
  const [prefix, target] of [["", "interface"], ["mappings[0].", "interface mapping"]] as const
) {
  const set = (key: string, value: unknown) =>
    make(DATASTREAM, (d) => {
      if (prefix === "") d[key] = value;
      else d.mappings[0]![key] = value;
    });

  Deno.test(`parseInterface() counts an ${target} description in grapheme clusters`, () => {
    const emoji1000 = ONE_EMOJI.repeat(1000);
    assertEquals(emoji1000.length, 8000);
    const iface = parseInterface(set("description", emoji1000));
    const value = prefix === "" ? iface.description : iface.mappings[0]!.description;
    assertEquals(value, emoji1000);
    parseInterface(set("description", "e\u0301".repeat(1000))); // combining accents
    parseInterface(set("description", "x".repeat(1000)));
    rejects(set("description", ONE_EMOJI.repeat(1001)), `${prefix}description`, "at most 1000");
    rejects(set("description", "x".repeat(1001)), `${prefix}description`, "at most 1000");
  });

  Deno.test(`parseInterface() limits an ${target} doc to 100000 grapheme clusters`, () => {
    parseInterface(set("doc", "\u00e9".repeat(100_000)));
    parseInterface(set("doc", "e\u0301".repeat(100_000)));
    rejects(set("doc", "d".repeat(100_001)), `${prefix}doc`, "at most 100000");
  });

  Deno.test(`parseInterface() rejects an ${target} description or doc that is not a string`, () => {
    rejects(set("description", 1), `${prefix}description`, "must be a string");
    rejects(set("doc", ["x"]), `${prefix}doc`, "must be a string");
  });
}

// ---------------------------------------------------------------------------------------------
// mappings array

Deno.test("parseInterface() rejects a missing, non-array or empty mappings", () => {
  rejects(
    make(DATASTREAM, (d) => delete (d as Record<string, unknown>).mappings),
    "mappings",
    "is required",
  );
  rejects(
    make(DATASTREAM, (d) => (d as Record<string, unknown>).mappings = {}),
    "mappings",
    "must be an array",
  );
  rejects(withMappings(DATASTREAM), "mappings", "1 to 1024 items (got 0)");
});

Deno.test("parseInterface() accepts 1024 mappings and rejects 1025", () => {
  const many = (n: number) =>
    Array.from({ length: n }, (_, i) => ({ endpoint: `/m${i}/%{p}`, type: "integer" }));
  assertEquals(parseInterface(withMappings(DATASTREAM, ...many(1024))).mappings.length, 1024);
  rejects(withMappings(DATASTREAM, ...many(1025)), "mappings", "1 to 1024 items (got 1025)");
});

Deno.test("parseInterface() rejects a mapping that is not an object", () => {
  const doc = make(DATASTREAM, (d) => (d.mappings as unknown[]).push("nope"));
  rejects(doc, "mappings[1]", "must be a JSON object");
});

// ---------------------------------------------------------------------------------------------
// Mapping endpoint and type

for (
  const endpoint of [
    "/a",
    "/_a/%{_p1}",
    "/%{p}",
    "/A_b9/%{CamelCase}/z",
    "/" + "x".repeat(255), // 256 characters
    "/a".repeat(64), // 64 levels
  ]
) {
  Deno.test(`parseInterface() accepts the endpoint ${endpoint.slice(0, 40)}`, () => {
    const iface = parseInterface(withMappings(DATASTREAM, { endpoint, type: "string" }));
    assertEquals(iface.mappings[0]!.endpoint, endpoint);
  });
}

for (
  const [endpoint, rule] of [
    ["/", "2 to 256 characters"],
    ["/" + "x".repeat(256), "2 to 256 characters"],
    ["/a".repeat(65), "at most 64 levels"],
    ["a/b", `must start with "/"`],
    ["/a/", "level 2"],
    ["/a//b", "level 2"],
    ["/1a", "level 1"],
    ["/a-b", "level 1"],
    ["/a/b c", "level 2"],
    ["/%{1p}", "parameter name"],
    ["/%{}", "parameter name"],
    ["/%{p-q}", "parameter name"],
    ["/%{p", "level 1"],
    ["/%{p}x", "level 1"],
    ["/a/+", "level 2"],
    ["/a/#", "level 2"],
    ["/a\n", "level 1"],
  ] as const
) {
  Deno.test(`parseInterface() rejects the endpoint ${JSON.stringify(endpoint.slice(0, 40))}`, () => {
    const err = rejects(
      withMappings(DATASTREAM, { endpoint, type: "string" }),
      "mappings[0].endpoint",
      rule,
    );
    assertEquals(err.endpoint, endpoint);
  });
}

Deno.test("parseInterface() rejects a missing or non-string endpoint", () => {
  rejects(withMappings(DATASTREAM, { type: "string" }), "mappings[0].endpoint", "is required");
  rejects(
    withMappings(DATASTREAM, { endpoint: 5, type: "string" }),
    "mappings[0].endpoint",
    "string",
  );
});

Deno.test("parseInterface() reads the legacy path field when endpoint is absent", () => {
  const iface = parseInterface(withMappings(DATASTREAM, { path: "/legacy/%{p}", type: "double" }));
  assertEquals(iface.mappings[0]!.endpoint, "/legacy/%{p}");
  const both = parseInterface(
    withMappings(DATASTREAM, { endpoint: "/a", path: "/b", type: "double" }),
  );
  assertEquals(both.mappings[0]!.endpoint, "/a");
  rejects(
    withMappings(DATASTREAM, { path: "/bad/", type: "double" }),
    "mappings[0].path",
    "level 2",
  );
  rejects(
    withMappings(DATASTREAM, { endpoint: "/a", path: 1, type: "double" }),
    "mappings[0].path",
    "string",
  );
});

Deno.test("parseInterface() accepts each of the 14 mapping types", () => {
  for (const type of ASTARTE_TYPES) {
    assertEquals(
      parseInterface(withMappings(DATASTREAM, { endpoint: "/v", type })).mappings[0]!.type,
      type,
    );
  }
  assertEquals(ASTARTE_TYPES.length, 14);
});

Deno.test("parseInterface() rejects a missing or unknown mapping type", () => {
  const err = rejects(
    withMappings(DATASTREAM, { endpoint: "/v" }),
    "mappings[0].type",
    "is required",
  );
  assertEquals(err.endpoint, "/v");
  rejects(
    withMappings(DATASTREAM, { endpoint: "/v", type: "float" }),
    "mappings[0].type",
    `"double"`,
  );
  rejects(
    withMappings(DATASTREAM, { endpoint: "/v", type: "Double" }),
    "mappings[0].type",
    "must be one of",
  );
});

Deno.test("parseInterface() accepts an endpoint ending in /timestamp (reserved only in the docs)", () => {
  parseInterface(withMappings(DATASTREAM, { endpoint: "/%{id}/timestamp", type: "datetime" }));
});

// ---------------------------------------------------------------------------------------------
// Mapping defaults and delivery fields

Deno.test("parseInterface() applies every default to a datastream mapping", () => {
  const mapping = parseInterface(DATASTREAM).mappings[0]!;
  const expected: Mapping = {
    endpoint: "/%{sensor}/value",
    type: "double",
    reliability: "unreliable",
    retention: "discard",
    expiry: 0,
    explicitTimestamp: false,
    allowUnset: false,
    required: false,
    databaseRetentionPolicy: "no_ttl",
    databaseRetentionTtl: undefined,
    description: undefined,
    doc: undefined,
    qos: 0,
  };
  assertEquals(mapping, expected);
});

Deno.test("parseInterface() applies every default to a property mapping, with QoS 2", () => {
  const mapping = parseInterface(PROPERTIES).mappings[0]!;
  assertEquals(
    [mapping.reliability, mapping.retention, mapping.expiry, mapping.explicitTimestamp],
    ["unreliable", "discard", 0, false],
  );
  assertEquals([mapping.allowUnset, mapping.required, mapping.qos], [false, false, 2]);
  assertEquals([mapping.databaseRetentionPolicy, mapping.databaseRetentionTtl], [
    "no_ttl",
    undefined,
  ]);
});

Deno.test("parseInterface() derives a datastream mapping's QoS from its reliability", () => {
  for (const [reliability, qos] of [["unreliable", 0], ["guaranteed", 1], ["unique", 2]] as const) {
    const doc = make(DATASTREAM, (d) => d.mappings[0]!.reliability = reliability);
    const mapping = parseInterface(doc).mappings[0]!;
    assertEquals([mapping.reliability, mapping.qos], [reliability, qos]);
  }
});

Deno.test("parseInterface() reads every datastream delivery field", () => {
  const mapping = parseInterface(make(DATASTREAM, (d) =>
    Object.assign(d.mappings[0]!, {
      retention: "stored",
      expiry: 30,
      explicit_timestamp: true,
      database_retention_policy: "use_ttl",
      database_retention_ttl: 60,
      description: "d",
      doc: "doc",
    }))).mappings[0]!;
  assertEquals(
    [mapping.retention, mapping.expiry, mapping.explicitTimestamp],
    ["stored", 30, true],
  );
  assertEquals([mapping.databaseRetentionPolicy, mapping.databaseRetentionTtl], ["use_ttl", 60]);
  assertEquals([mapping.description, mapping.doc], ["d", "doc"]);
});

Deno.test("parseInterface() reads allow_unset on a property mapping", () => {
  const doc = make(PROPERTIES, (d) => d.mappings[0]!.allow_unset = true);
  assertEquals(parseInterface(doc).mappings[0]!.allowUnset, true);
});

for (
  const [key, value, rule] of [
    ["reliability", "best", "must be one of"],
    ["retention", "keep", "must be one of"],
    ["expiry", -1, "integer from 0"],
    ["expiry", 1.5, "integer from 0"],
    ["expiry", "30", "integer from 0"],
    ["explicit_timestamp", "true", "must be a boolean"],
    ["allow_unset", 1, "must be a boolean"],
    ["required", "no", "must be a boolean"],
    ["encrypted", "no", "must be a boolean"],
    ["database_retention_policy", "ttl", "must be one of"],
    ["database_retention_ttl", "60", "integer from 60 to 630719999"],
  ] as const
) {
  Deno.test(`parseInterface() rejects ${key} = ${JSON.stringify(value)}`, () => {
    const err = rejects(
      make(DATASTREAM, (d) => d.mappings[0]![key] = value),
      `mappings[0].${key}`,
      rule,
    );
    assertEquals(err.endpoint, "/%{sensor}/value");
    assertStringIncludes(err.message, `interface "org.example.Test"`);
    assertStringIncludes(err.message, `endpoint "/%{sensor}/value"`);
  });
}

Deno.test("parseInterface() bounds database_retention_ttl to 60 <= ttl < 630720000", () => {
  const ttl = (value: number) =>
    make(DATASTREAM, (d) =>
      Object.assign(d.mappings[0]!, {
        database_retention_policy: "use_ttl",
        database_retention_ttl: value,
      }));
  assertEquals(parseInterface(ttl(60)).mappings[0]!.databaseRetentionTtl, 60);
  assertEquals(parseInterface(ttl(630_719_999)).mappings[0]!.databaseRetentionTtl, 630_719_999);
  rejects(ttl(59), "mappings[0].database_retention_ttl", "from 60 to 630719999");
  rejects(ttl(630_720_000), "mappings[0].database_retention_ttl", "from 60 to 630719999");
});

Deno.test("parseInterface() requires database_retention_ttl exactly when the policy is use_ttl", () => {
  rejects(
    make(DATASTREAM, (d) => d.mappings[0]!.database_retention_policy = "use_ttl"),
    "mappings[0].database_retention_ttl",
    `is required when database_retention_policy is "use_ttl"`,
  );
  rejects(
    make(DATASTREAM, (d) => d.mappings[0]!.database_retention_ttl = 3600),
    "mappings[0].database_retention_ttl",
    "must be absent unless",
  );
  rejects(
    make(DATASTREAM, (d) =>
      Object.assign(d.mappings[0]!, {
        database_retention_policy: "no_ttl",
        database_retention_ttl: 3600,
      })),
    "mappings[0].database_retention_ttl",
    "must be absent unless",
  );
});

Deno.test("parseInterface() refuses encrypted mappings and accepts encrypted: false", () => {
  rejects(
    make(DATASTREAM, (d) => d.mappings[0]!.encrypted = true),
    "mappings[0].encrypted",
    "not supported",
  );
  parseInterface(make(DATASTREAM, (d) => d.mappings[0]!.encrypted = false));
});

// "Allowed on": explicit defaults tolerated, non-default values refused (protocol reference §6.2).
const DATASTREAM_ONLY: readonly (readonly [string, unknown, unknown])[] = [
  ["reliability", "unreliable", "guaranteed"],
  ["retention", "discard", "volatile"],
  ["expiry", 0, 60],
  ["explicit_timestamp", false, true],
  ["database_retention_policy", "no_ttl", "use_ttl"],
];
for (const [key, defaultValue, other] of DATASTREAM_ONLY) {
  Deno.test(`parseInterface() tolerates the default ${key} on a property mapping`, () => {
    const doc = make(PROPERTIES, (d) => d.mappings[0]![key] = defaultValue);
    assertEquals(parseInterface(doc).mappings[0]!.qos, 2);
  });
  Deno.test(`parseInterface() rejects a non-default ${key} on a property mapping`, () => {
    const doc = make(PROPERTIES, (d) => d.mappings[0]![key] = other);
    const err = rejects(doc, `mappings[0].${key}`, "on a properties interface");
    assertEquals(err.endpoint, "/led/%{id}/enabled");
  });
}

Deno.test("parseInterface() rejects database_retention_ttl on a property mapping", () => {
  const doc = make(PROPERTIES, (d) => d.mappings[0]!.database_retention_ttl = 3600);
  rejects(doc, "mappings[0].database_retention_ttl", "on a properties interface");
});

Deno.test("parseInterface() tolerates allow_unset: false on a datastream and rejects true", () => {
  parseInterface(make(DATASTREAM, (d) => d.mappings[0]!.allow_unset = false));
  rejects(
    make(DATASTREAM, (d) => d.mappings[0]!.allow_unset = true),
    "mappings[0].allow_unset",
    "datastream",
  );
});

Deno.test("parseInterface() accepts required: true only on an object interface", () => {
  parseInterface(make(DATASTREAM, (d) => d.mappings[0]!.required = false));
  parseInterface(make(PROPERTIES, (d) => d.mappings[0]!.required = false));
  const object = parseInterface(make(OBJECT, (d) => d.mappings[0]!.required = true));
  assertEquals(object.mappings.map((m) => m.required), [true, false]);
  rejects(
    make(DATASTREAM, (d) => d.mappings[0]!.required = true),
    "mappings[0].required",
    "object",
  );
  rejects(
    make(PROPERTIES, (d) => d.mappings[0]!.required = true),
    "mappings[0].required",
    "object",
  );
});

// ---------------------------------------------------------------------------------------------
// Endpoint set: duplicates, ambiguity, prefixes

for (
  const [a, b, rule] of [
    ["/a/%{x}", "/a/%{y}", "duplicates mappings[0]"],
    ["/a/b", "/a/b", "duplicates mappings[0]"],
    ["/Sensor/value", "/sensor/value", "duplicates mappings[0]"],
    ["/%{x}/value", "/fixed/value", `the path "/fixed/value" matches both`],
    ["/fixed/value", "/%{x}/value", `the path "/fixed/value" matches both`],
    ["/a/%{p}", "/%{q}/b", `the path "/a/b" matches both`],
    ["/a/b", "/a/%{p}/c", `"/a/b" is a prefix of "/a/%{p}/c"`],
    ["/a/b/c", "/a/b", `"/a/b" is a prefix of "/a/b/c"`],
    ["/a/x", "/a/%{p}/c", `"/a/x" is a prefix of "/a/%{p}/c"`],
    ["/%{p}/b", "/a/b/c", `"/%{p}/b" is a prefix of "/a/b/c"`],
    ["/a", "/a/b", `"/a" is a prefix of "/a/b"`],
  ] as const
) {
  Deno.test(`parseInterface() rejects the endpoints ${a} and ${b}`, () => {
    const doc = withMappings(DATASTREAM, { endpoint: a, type: "double" }, {
      endpoint: b,
      type: "double",
    });
    const err = rejects(doc, "mappings[1].endpoint", rule);
    assertEquals(err.endpoint, b);
  });
}

for (
  const [a, b] of [
    ["/%{p}/x", "/a/y"],
    ["/a/%{p}/c", "/a/x/d"],
    ["/A/b", "/a/%{p}"], // literals are case-sensitive when resolving
    ["/a/b", "/a/c/d"],
    ["/%{p}/x/%{q}", "/a/y/z"],
  ] as const
) {
  Deno.test(`parseInterface() accepts the endpoints ${a} and ${b}`, () => {
    const doc = withMappings(DATASTREAM, { endpoint: a, type: "double" }, {
      endpoint: b,
      type: "double",
    });
    assertEquals(parseInterface(doc).mappings.map((m) => m.endpoint), [a, b]);
  });
}

// ---------------------------------------------------------------------------------------------
// Object aggregation

Deno.test("parseInterface() rejects object endpoints that do not share their prefix", () => {
  for (
    const second of ["/%{place}/humidity", "/kitchen/humidity", "/%{room}/x/humidity", "/humidity"]
  ) {
    const doc = make(OBJECT, (d) => d.mappings[1]!.endpoint = second);
    const err = rejects(doc, "mappings[1].endpoint", `must start with "/%{room}/"`);
    assertEquals(err.endpoint, second);
  }
});

Deno.test("parseInterface() rejects an object endpoint whose last level is a parameter", () => {
  const doc = withMappings(OBJECT, { endpoint: "/a/%{key}", type: "double" });
  rejects(doc, "mappings[0].endpoint", "must end with a literal level");
});

for (
  const [key, a, b] of [
    ["reliability", "unique", "guaranteed"],
    ["retention", "stored", "volatile"],
    ["expiry", 10, 20],
    ["explicit_timestamp", true, false],
    ["database_retention_ttl", 3600, 7200],
  ] as const
) {
  Deno.test(`parseInterface() rejects object mappings with different ${key}`, () => {
    const doc = make(OBJECT, (d) => {
      d.mappings[0]![key] = a;
      d.mappings[1]![key] = b;
      if (key === "database_retention_ttl") {
        for (const m of d.mappings) m.database_retention_policy = "use_ttl";
      }
    });
    const err = rejects(doc, `mappings[1].${key}`, "must equal mappings[0]'s value");
    assertEquals(err.endpoint, "/%{room}/humidity");
  });
}

Deno.test("parseInterface() rejects object mappings with different database_retention_policy", () => {
  const doc = make(
    OBJECT,
    (d) =>
      Object.assign(d.mappings[0]!, {
        database_retention_policy: "use_ttl",
        database_retention_ttl: 60,
      }),
  );
  rejects(doc, "mappings[1].database_retention_policy", "must equal mappings[0]'s value");
});

Deno.test("parseInterface() compares object attributes after applying defaults", () => {
  const doc = make(OBJECT, (d) => {
    d.mappings[0]!.explicit_timestamp = false;
    d.mappings[0]!.reliability = "unreliable";
    d.mappings[1]!.expiry = 0;
  });
  assertEquals(parseInterface(doc).mappings.length, 2);
});

Deno.test("parseInterface() accepts a legacy object interface with depth-1 endpoints", () => {
  const doc = withMappings(OBJECT, { endpoint: "/lat", type: "double" }, {
    endpoint: "/long",
    type: "double",
  });
  assertEquals(parseInterface(doc).aggregation, "object");
});

// ---------------------------------------------------------------------------------------------
// Model: immutability, toJSON, introspection

Deno.test("parseInterface() returns a frozen interface with frozen mappings", () => {
  const iface = parseInterface(OBJECT);
  assert(Object.isFrozen(iface));
  assert(Object.isFrozen(iface.mappings));
  assert(Object.isFrozen(iface.mappings[0]));
  assertThrows(() => (iface.mappings as Mapping[]).push(iface.mappings[0]!), TypeError);
  assertThrows(() => ((iface.mappings[0] as { expiry: number }).expiry = 5), TypeError);
  const map = iface.objectMappingsFor("/kitchen") as Map<string, Mapping>;
  assertThrows(() => map.set("x", iface.mappings[0]!), TypeError);
  assertThrows(() => map.delete("temperature"), TypeError);
  assertThrows(() => map.clear(), TypeError);
  assertEquals(map.size, 2);
});

Deno.test("Interface.introspectionEntry() returns name:major:minor", () => {
  assertEquals(parseInterface(OBJECT).introspectionEntry(), "org.example.Climate:1:2");
});

Deno.test("Interface.toJSON() spells out defaults and normalises legacy fields", () => {
  const legacy = {
    interface_name: "org.example.Legacy",
    version_major: 0,
    version_minor: 3,
    type: "datastream",
    quality: "producer",
    aggregate: true,
    description: "legacy",
    mappings: [
      { path: "/%{id}/a", type: "integer", reliability: "unique", required: true },
      { path: "/%{id}/b", type: "string", reliability: "unique", doc: "b" },
    ],
  };
  const json = parseInterface(legacy).toJSON();
  assertEquals(json, {
    interface_name: "org.example.Legacy",
    version_major: 0,
    version_minor: 3,
    type: "datastream",
    ownership: "device",
    aggregation: "object",
    description: "legacy",
    mappings: [
      {
        endpoint: "/%{id}/a",
        type: "integer",
        reliability: "unique",
        retention: "discard",
        expiry: 0,
        explicit_timestamp: false,
        database_retention_policy: "no_ttl",
        required: true,
      },
      {
        endpoint: "/%{id}/b",
        type: "string",
        reliability: "unique",
        retention: "discard",
        expiry: 0,
        explicit_timestamp: false,
        database_retention_policy: "no_ttl",
        required: false,
        doc: "b",
      },
    ],
  });
  assertEquals(parseInterface(JSON.stringify(json)).toJSON(), json);
});

Deno.test("Interface.toJSON() writes only allow_unset among delivery fields of properties", () => {
  const json = parseInterface(make(PROPERTIES, (d) => d.mappings[0]!.reliability = "unreliable"))
    .toJSON();
  assertEquals(json.mappings[0], {
    endpoint: "/led/%{id}/enabled",
    type: "boolean",
    allow_unset: false,
  });
  assertEquals(json.aggregation, "individual");
});

// ---------------------------------------------------------------------------------------------
// Path resolution

function expectMapping(iface: Interface, path: string, endpoint: string): void {
  const result = iface.resolve(path);
  if (result.kind !== "mapping") fail(`${path}: expected a mapping, got ${JSON.stringify(result)}`);
  assertEquals(result.mapping.endpoint, endpoint);
  assertStrictEquals(iface.mappingFor(path), result.mapping);
  assertEquals(iface.objectMappingsFor(path), undefined);
}

function expectKind(iface: Interface, path: string, kind: PathResolution["kind"]): PathResolution {
  const result = iface.resolve(path);
  assertEquals(result.kind, kind, `${JSON.stringify(path)}: ${JSON.stringify(result)}`);
  if (kind !== "mapping") assertEquals(iface.mappingFor(path), undefined);
  if (kind !== "object") assertEquals(iface.objectMappingsFor(path), undefined);
  return result;
}

const MIXED = parseInterface(withMappings(
  DATASTREAM,
  { endpoint: "/fixed/value", type: "double" },
  { endpoint: "/%{sensor}/name", type: "string" },
  { endpoint: "/%{sensor}/axes/%{axis}/reading", type: "double" },
  { endpoint: "/a/y", type: "integer" },
  { endpoint: "/%{p}/x", type: "integer" },
  { endpoint: "/deep/level/b/%{c}", type: "integer" },
));

Deno.test("Interface.resolve() resolves a parameter-less path exactly", () => {
  expectMapping(MIXED, "/fixed/value", "/fixed/value");
  expectMapping(MIXED, "/a/y", "/a/y");
});

Deno.test("Interface.resolve() resolves parametric paths, digits-only and Unicode values included", () => {
  expectMapping(MIXED, "/kitchen/name", "/%{sensor}/name");
  expectMapping(MIXED, "/0/name", "/%{sensor}/name");
  expectMapping(MIXED, "/fixed/name", "/%{sensor}/name");
  expectMapping(MIXED, "/ünï cødé 🌡/name", "/%{sensor}/name");
  expectMapping(MIXED, "/0/axes/1/reading", "/%{sensor}/axes/%{axis}/reading");
  expectMapping(MIXED, "/deep/axes/x/reading", "/%{sensor}/axes/%{axis}/reading");
  expectMapping(MIXED, "/deep/level/b/2", "/deep/level/b/%{c}");
});

Deno.test("Interface.resolve() backtracks from a literal level to a parameter", () => {
  expectMapping(MIXED, "/a/x", "/%{p}/x");
  expectMapping(MIXED, "/b/x", "/%{p}/x");
  expectMapping(MIXED, "/deep/x", "/%{p}/x");
});

Deno.test("Interface.resolve() returns not-found for a wrong depth or literal", () => {
  expectKind(MIXED, "/fixed/value/extra", "not-found");
  expectKind(MIXED, "/fixed/other", "not-found");
  expectKind(MIXED, "/a/b/c/d/e", "not-found");
  expectKind(MIXED, "/Fixed/value", "not-found");
  expectKind(parseInterface(DATASTREAM), "/x/Value", "not-found");
});

Deno.test("Interface.resolve() reports a strict prefix of an individual interface as ambiguous", () => {
  expectKind(MIXED, "/kitchen", "ambiguous");
  expectKind(MIXED, "/kitchen/axes", "ambiguous");
  expectKind(MIXED, "/kitchen/axes/0", "ambiguous");
  expectKind(MIXED, "/deep/level", "ambiguous");
  expectKind(MIXED, "/deep/level/b", "ambiguous");
});

for (
  const [path, reason] of [
    ["", `must start with "/"`],
    ["fixed/value", `must start with "/"`],
    ["/", "has no level"],
    ["//fixed/value", `"//"`],
    ["/fixed//value", `"//"`],
    ["/fixed/value/", `must not end with "/"`],
    ["/kitchen/name/", `must not end with "/"`],
    ["/+/name", `"+"`],
    ["/a+b/name", `"+"`],
    ["/#/name", `"#"`],
    ["/k#/name", `"#"`],
    ["/k\0/name", "U+0000"],
    ["/\uD800/name", "lone surrogate"],
  ] as const
) {
  Deno.test(`Interface.resolve() rejects the path ${JSON.stringify(path)} as invalid`, () => {
    const result = expectKind(MIXED, path, "invalid");
    assert(result.kind === "invalid");
    assertStringIncludes(result.reason, reason);
    assertStringIncludes(result.reason, JSON.stringify(path));
  });
}

const CLIMATE = parseInterface(OBJECT);

Deno.test("Interface.resolve() returns the object mappings for an object path", () => {
  for (const path of ["/kitchen", "/0", "/temperature"]) {
    const result = expectKind(CLIMATE, path, "object");
    assert(result.kind === "object");
    assertEquals([...result.mappings.keys()], ["temperature", "humidity"]);
    assertStrictEquals(result.mappings.get("humidity"), CLIMATE.mappings[1]);
    assertStrictEquals(CLIMATE.objectMappingsFor(path), result.mappings);
  }
});

Deno.test("Interface.resolve() resolves a full endpoint path of an object interface to its mapping", () => {
  expectMapping(CLIMATE, "/kitchen/temperature", "/%{room}/temperature");
});

Deno.test("Interface.resolve() returns not-found for other paths of an object interface", () => {
  expectKind(CLIMATE, "/kitchen/pressure", "not-found");
  expectKind(CLIMATE, "/kitchen/temperature/x", "not-found");
  expectKind(CLIMATE, "/", "invalid");
  const deep = parseInterface(withMappings(
    OBJECT,
    { endpoint: "/house/%{room}/temperature", type: "double" },
    { endpoint: "/house/%{room}/humidity", type: "double" },
  ));
  expectKind(deep, "/house", "not-found");
  expectKind(deep, "/garage/kitchen", "not-found");
  expectKind(deep, "/house/kitchen", "object");
});

Deno.test("Interface.resolve() resolves a literal object prefix", () => {
  const gps = parseInterface(withMappings(
    OBJECT,
    { endpoint: "/coords/lat", type: "double" },
    { endpoint: "/coords/long", type: "double" },
  ));
  const result = expectKind(gps, "/coords", "object");
  assert(result.kind === "object");
  assertEquals([...result.mappings.keys()], ["lat", "long"]);
  expectMapping(gps, "/coords/long", "/coords/long");
  expectKind(gps, "/other", "not-found");
});

Deno.test("Interface.resolve() resolves / on a legacy depth-1 object interface", () => {
  const legacy = parseInterface(withMappings(
    OBJECT,
    { endpoint: "/lat", type: "double" },
    { endpoint: "/long", type: "double" },
  ));
  const result = expectKind(legacy, "/", "object");
  assert(result.kind === "object");
  assertEquals([...result.mappings.keys()], ["lat", "long"]);
  expectMapping(legacy, "/lat", "/lat");
  expectKind(legacy, "//", "invalid");
});

Deno.test("Interface.resolve() returns frozen results", () => {
  const results = [MIXED.resolve("/fixed/value"), MIXED.resolve("/k/name"), MIXED.resolve("/k")];
  for (const result of results) assert(Object.isFrozen(result));
  assertInstanceOf(CLIMATE.objectMappingsFor("/k"), Map);
});

Deno.test("Interface.resolve() does not depend on mapping order", () => {
  const reversed = parseInterface(make(DATASTREAM, (d) => {
    d.mappings = MIXED.toJSON().mappings.toReversed() as unknown as Record<string, unknown>[];
  }));
  for (
    const path of [
      "/a/x",
      "/a/y",
      "/fixed/value",
      "/fixed/name",
      "/0/axes/1/reading",
      "/deep/level/b",
      "/k",
    ]
  ) {
    assertEquals(reversed.resolve(path), MIXED.resolve(path), path);
  }
});

Deno.test("parseInterface() hands back an already parsed Interface unchanged", () => {
  const iface = parseInterface({
    interface_name: "org.example.Again",
    version_major: 1,
    version_minor: 0,
    type: "datastream",
    ownership: "device",
    mappings: [{ endpoint: "/v", type: "double" }],
  });
  assertStrictEquals(parseInterface(iface), iface);
});
