/** `jwt`: agent tokens the dev server's verifier (and Astarte) accept. */
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { createPrivateKey } from "node:crypto";
import { verifyJwt } from "../../dev_server/mod.ts";
import { isOneLineUsageError, runCli } from "./_run.ts";

function pem(label: string, der: ArrayBuffer | Uint8Array): string {
  const b64 = new Uint8Array(der).toBase64();
  return `-----BEGIN ${label}-----\n${b64.match(/.{1,64}/g)!.join("\n")}\n-----END ${label}-----\n`;
}

async function keyFile(dir: string, name: string, text: string): Promise<string> {
  const path = `${dir}/${name}`;
  await Deno.writeTextFile(path, text);
  return path;
}

function claimsOf(token: string): Record<string, unknown> {
  const part = token.split(".")[1]!;
  return JSON.parse(
    new TextDecoder().decode(Uint8Array.fromBase64(part, { alphabet: "base64url" })),
  );
}

async function verifyRs256(publicKey: CryptoKey, token: string): Promise<boolean> {
  const [header, payload, signature] = token.split(".") as [string, string, string];
  return await crypto.subtle.verify(
    { name: "RSASSA-PKCS1-v1_5" },
    publicKey,
    Uint8Array.fromBase64(signature, { alphabet: "base64url" }),
    new TextEncoder().encode(`${header}.${payload}`),
  );
}

Deno.test("jwt signs an ES256 Pairing token that the dev server's verifier accepts", async () => {
  await using dir = await tempDir();
  const keys = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
    "sign",
    "verify",
  ]);
  const file = await keyFile(
    dir.path,
    "realm.pem",
    pem("PRIVATE KEY", await crypto.subtle.exportKey("pkcs8", keys.privateKey)),
  );
  const result = await runCli(["jwt", "--realm", "test", "--key", file, "--ttl", "120"]);
  assertEquals(result.code, 0, result.stderr);
  const token = result.stdout.trim();
  const claims = await verifyJwt(keys.publicKey, token);
  assert(claims !== undefined, "the dev server verifier refused the token");
  assertEquals(claims.a_pa, [".*::.*"]);
  assertEquals((claims.exp as number) - (claims.iat as number), 120);
  assert(Math.abs((claims.iat as number) - Date.now() / 1000) < 60);
  // Expired once the TTL is over.
  assertEquals(await verifyJwt(keys.publicKey, token, { now: Date.now() + 121_000 }), undefined);
  assertStringIncludes(result.stderr, "expires in 2 min");
  assert(!result.stderr.includes(token), "the token must not be on stderr");
});

Deno.test("jwt reads SEC1 EC keys and PKCS#1 RSA keys and signs RS256 with RSA", async () => {
  await using dir = await tempDir();
  const ec = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
    "sign",
    "verify",
  ]);
  const sec1 = createPrivateKey({
    key: new Uint8Array(await crypto.subtle.exportKey("pkcs8", ec.privateKey)),
    format: "der",
    type: "pkcs8",
  }).export({ type: "sec1", format: "pem" }) as string;
  assertStringIncludes(sec1, "BEGIN EC PRIVATE KEY");
  const ecResult = await runCli(["jwt", "--key", await keyFile(dir.path, "ec.pem", sec1)]);
  assertEquals(ecResult.code, 0, ecResult.stderr);
  assert(await verifyJwt(ec.publicKey, ecResult.stdout.trim()));

  const rsa = await crypto.subtle.generateKey(
    {
      name: "RSASSA-PKCS1-v1_5",
      modulusLength: 2048,
      publicExponent: new Uint8Array([1, 0, 1]),
      hash: "SHA-256",
    },
    true,
    ["sign", "verify"],
  );
  const pkcs1 = createPrivateKey({
    key: new Uint8Array(await crypto.subtle.exportKey("pkcs8", rsa.privateKey)),
    format: "der",
    type: "pkcs8",
  }).export({ type: "pkcs1", format: "pem" }) as string;
  assertStringIncludes(pkcs1, "BEGIN RSA PRIVATE KEY");
  const rsaResult = await runCli([
    "jwt",
    "--key",
    await keyFile(dir.path, "rsa.pem", pkcs1),
    "--json",
  ]);
  assertEquals(rsaResult.code, 0, rsaResult.stderr);
  const json = JSON.parse(rsaResult.stdout);
  assertEquals(json.algorithm, "RS256");
  assertEquals(JSON.parse(atob(json.token.split(".")[0])).alg, "RS256");
  assert(await verifyRs256(rsa.publicKey, json.token));
  assertEquals(json.claims, claimsOf(json.token));
  assertEquals(json.expiresAt, new Date((json.claims.exp as number) * 1000).toISOString());
});

Deno.test("jwt --service picks the claims of each Astarte API", async () => {
  await using dir = await tempDir();
  const keys = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
    "sign",
  ]);
  const file = await keyFile(
    dir.path,
    "k.pem",
    pem("PRIVATE KEY", await crypto.subtle.exportKey("pkcs8", keys.privateKey)),
  );
  const one = await runCli(["jwt", "--key", file, "--service", "appengine"]);
  const claims = claimsOf(one.stdout.trim());
  assertEquals(claims.a_aea, [".*::.*"]);
  assertEquals(claims.a_pa, undefined);
  const all = claimsOf((await runCli(["jwt", "--key", file, "--service", "all"])).stdout.trim());
  assertEquals(Object.keys(all).filter((k) => k.startsWith("a_")).sort(), [
    "a_aea",
    "a_ch",
    "a_f",
    "a_pa",
    "a_rma",
  ]);
});

Deno.test("jwt exits 2 on argument mistakes and 1 on unusable key files, in one line", async () => {
  await using dir = await tempDir();
  const notKey = await keyFile(dir.path, "notes.txt", "hello");
  const ed = await crypto.subtle.generateKey({ name: "Ed25519" }, true, [
    "sign",
    "verify",
  ]) as CryptoKeyPair;
  const edFile = await keyFile(
    dir.path,
    "ed.pem",
    pem("PRIVATE KEY", await crypto.subtle.exportKey("pkcs8", ed.privateKey)),
  );
  const usage: [string[], string][] = [
    [["jwt"], "missing --key"],
    [["jwt", "--key", edFile, "--ttl", "0"], "--ttl must be an integer"],
    [["jwt", "--key", edFile, "--ttl", "1h"], "--ttl must be an integer"],
    [["jwt", "--key", edFile, "--service", "grafana"], '--service "grafana"'],
    [["jwt", "--key", edFile, "--realm", "Bad_Realm"], "not a valid realm name"],
  ];
  for (const [args, message] of usage) {
    const result = await runCli(args);
    assert(isOneLineUsageError(result), `${args.join(" ")}: ${result.stderr}`);
    assertStringIncludes(result.stderr, message);
  }
  const failures: [string, string][] = [
    [`${dir.path}/missing.pem`, "no such file"],
    [notKey, "expected a PEM EC (P-256 or P-384) or RSA private key"],
    [edFile, "ed25519 keys are not supported"],
  ];
  for (const [file, message] of failures) {
    const result = await runCli(["jwt", "--key", file]);
    assertEquals(result.code, 1, result.stderr);
    assertEquals(result.stdout, "");
    assertEquals(result.stderr.trimEnd().split("\n").length, 1);
    assertStringIncludes(result.stderr, message);
  }
});

async function tempDir(): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix: "cli-jwt-" });
  return { path, [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }) };
}
