import { assertEquals, assertStrictEquals, assertStringIncludes, assertThrows } from "@std/assert";
import { AstarteError } from "../../src/errors.ts";
import { type BrokerAddress, parseBrokerUrl } from "./_broker_url.ts";

Deno.test("parseBrokerUrl() accepts the TLS and plain-TCP schemes, with default ports", () => {
  const cases: [string, BrokerAddress][] = [
    ["mqtts://h:1/", { url: "mqtts://h:1", secure: true, host: "h", port: 1 }],
    ["ssl://h", { url: "mqtts://h:8883", secure: true, host: "h", port: 8883 }],
    ["mqtt://h", { url: "mqtt://h:1883", secure: false, host: "h", port: 1883 }],
    [
      "tcp://127.0.0.1:1884",
      { url: "mqtt://127.0.0.1:1884", secure: false, host: "127.0.0.1", port: 1884 },
    ],
    ["MQTTS://[::1]:8883/", { url: "mqtts://[::1]:8883", secure: true, host: "::1", port: 8883 }],
  ];
  for (const [text, expected] of cases) assertEquals(parseBrokerUrl(text), expected, text);
});

Deno.test("parseBrokerUrl() with the Pairing rules requires TLS and an explicit port", () => {
  const rules = { tlsOnly: true, portRequired: true };
  assertEquals(parseBrokerUrl("ssl://broker.example.com:8883/", rules), {
    url: "mqtts://broker.example.com:8883",
    secure: true,
    host: "broker.example.com",
    port: 8883,
  });
  const refused: [string, string][] = [
    ["mqtts://h", "missing or invalid port"],
    ["mqtt://h:1883", 'scheme "mqtt" is not mqtts or ssl'],
    ["tcp://h:1883", 'scheme "tcp" is not mqtts or ssl'],
  ];
  for (const [text, expected] of refused) {
    assertThrows(() => parseBrokerUrl(text, rules), AstarteError, expected);
  }
});

Deno.test("parseBrokerUrl() refuses bad URLs with a transport-failed error naming URL and rule", () => {
  const refused: [string, string][] = [
    ["not a url", "not a URL"],
    ["mqtts://h:99999", "not a URL"],
    ["http://h:80", 'scheme "http" is not mqtts, ssl, mqtt or tcp'],
    ["broker.example.com:8883", 'scheme "broker.example.com" is not'],
    ["mqtts://", "no host"],
    ["mqtts://h:0", "invalid port 0, not 1 to 65535"],
  ];
  for (const [text, expected] of refused) {
    const error = assertThrows(() => parseBrokerUrl(text), AstarteError);
    assertStrictEquals(error.code, "transport-failed");
    assertStrictEquals(error.permanent, false);
    assertStringIncludes(error.message, `Invalid broker URL ${JSON.stringify(text)}: ${expected}`);
  }
});
