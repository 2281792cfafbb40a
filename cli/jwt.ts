/**
 * `jwt`: signs an Astarte agent token with the realm's private key, with the claims
 * `astartectl utils gen-jwt` writes (`a_pa` for the Pairing API by default, `iat`, `exp`).
 * Signing uses WebCrypto; `node:crypto` only converts the PEM (SEC1, PKCS#1 or PKCS#8) to PKCS#8.
 *
 * @module
 */
import { createPrivateKey, type KeyObject } from "node:crypto";
import { isValidRealmName } from "../mod.ts";
import { CommandFailure, UsageError } from "./_args.ts";
import type { Command } from "./_command.ts";
import { readTextArgument } from "./_files.ts";

/** The claim each Astarte API reads its authorizations from. */
const SERVICE_CLAIMS: Readonly<Record<string, { claim: string; value: readonly string[] }>> = {
  "pairing": { claim: "a_pa", value: [".*::.*"] },
  "appengine": { claim: "a_aea", value: [".*::.*"] },
  "realm-management": { claim: "a_rma", value: [".*::.*"] },
  "channels": { claim: "a_ch", value: ["JOIN::.*", "WATCH::.*"] },
  "flow": { claim: "a_f", value: [".*::.*"] },
};
const ALL_SERVICES = Object.keys(SERVICE_CLAIMS);
const DEFAULT_TTL_SECONDS = 3600;
const B64URL = { alphabet: "base64url", omitPadding: true } as const;
const encoder = new TextEncoder();

interface SigningKey {
  readonly alg: "ES256" | "ES384" | "RS256";
  readonly key: CryptoKey;
  readonly params: AlgorithmIdentifier | EcdsaParams;
}

/** Imports a PEM private key for JWS signing; never puts key material in an error. */
async function importSigningKey(pem: string, file: string): Promise<SigningKey> {
  let keyObject: KeyObject;
  try {
    keyObject = createPrivateKey(pem);
  } catch (error) {
    const encrypted = /ENCRYPTED/.test(pem) ||
      /passphrase/i.test(error instanceof Error ? error.message : "");
    throw new CommandFailure(
      encrypted
        ? `Cannot use ${JSON.stringify(file)} as a signing key: encrypted keys are not ` +
          "supported (decrypt it first, e.g. with openssl pkey)"
        : `Cannot use ${JSON.stringify(file)} as a signing key: expected a PEM EC (P-256 or ` +
          "P-384) or RSA private key",
    );
  }
  const der = keyObject.export({ type: "pkcs8", format: "der" });
  const pkcs8 = new Uint8Array(der.buffer, der.byteOffset, der.byteLength).slice();
  const type = keyObject.asymmetricKeyType;
  const curve = keyObject.asymmetricKeyDetails?.namedCurve;
  if (type === "ec" && (curve === "prime256v1" || curve === "secp384r1")) {
    const p256 = curve === "prime256v1";
    const key = await crypto.subtle.importKey(
      "pkcs8",
      pkcs8,
      { name: "ECDSA", namedCurve: p256 ? "P-256" : "P-384" },
      false,
      ["sign"],
    );
    return {
      alg: p256 ? "ES256" : "ES384",
      key,
      params: { name: "ECDSA", hash: p256 ? "SHA-256" : "SHA-384" },
    };
  }
  if (type === "rsa") {
    const key = await crypto.subtle.importKey(
      "pkcs8",
      pkcs8,
      { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
      false,
      ["sign"],
    );
    return { alg: "RS256", key, params: { name: "RSASSA-PKCS1-v1_5" } };
  }
  const kind = [type ?? "unknown", curve].filter((part) => part !== undefined).join(" ");
  throw new CommandFailure(
    `Cannot use ${JSON.stringify(file)} as a signing key: ${kind} keys are not supported ` +
      "(use an EC P-256, EC P-384 or RSA key)",
  );
}

function b64urlJson(value: unknown): string {
  return encoder.encode(JSON.stringify(value)).toBase64(B64URL);
}

/** Signs `claims` as a compact JWS. */
async function signJws(key: SigningKey, claims: Record<string, unknown>): Promise<string> {
  const input = `${b64urlJson({ alg: key.alg, typ: "JWT" })}.${b64urlJson(claims)}`;
  const signature = await crypto.subtle.sign(key.params, key.key, encoder.encode(input));
  return `${input}.${new Uint8Array(signature).toBase64(B64URL)}`;
}

function describeTtl(seconds: number): string {
  if (seconds % 86_400 === 0) return `${seconds / 86_400} d`;
  if (seconds % 3600 === 0) return `${seconds / 3600} h`;
  if (seconds % 60 === 0) return `${seconds / 60} min`;
  return `${seconds} s`;
}

/** The `jwt` command. */
export const jwtCommand: Command = {
  name: "jwt",
  summary: "Sign an agent JWT with the realm's private key (as astartectl utils gen-jwt)",
  description: "Prints a token for the Pairing API (claim a_pa, every method and path) that " +
    "`register` and `simulate --jwt` accept. The token is signed with the realm's private key: " +
    "ES256 for an EC P-256 key, ES384 for P-384, RS256 for RSA (PEM: PKCS#8, SEC1 or PKCS#1). " +
    "It expires after --ttl seconds (1 hour by default); make a new one when it does. The token " +
    "grants access to the realm: keep it out of logs and shell history.",
  options: {
    realm: {
      type: "string",
      value: "REALM",
      help: "Realm the token is for (checked; Astarte tokens carry no realm claim)",
      env: "ASTARTE_REALM",
    },
    key: { type: "string", short: "k", value: "FILE", help: "Realm private key (PEM)" },
    ttl: { type: "string", value: "SECONDS", help: "Lifetime in seconds (default 3600)" },
    service: {
      type: "string",
      multiple: true,
      value: "NAME",
      help: `API to authorise: ${ALL_SERVICES.join(", ")} or all (default pairing)`,
    },
    json: {
      type: "boolean",
      help: "Print {token, algorithm, claims, expiresAt} as JSON",
    },
  },
  examples: [
    "jwt --realm myrealm --key myrealm_private.pem",
    "jwt --realm myrealm --key myrealm_private.pem --ttl 300 --service appengine",
  ],
  async run({ values }, { out }) {
    const realm = values.string("realm");
    if (realm !== undefined && !isValidRealmName(realm)) {
      throw new UsageError(
        `--realm ${JSON.stringify(realm)} is not a valid realm name (lowercase letters and ` +
          "digits, starting with a letter, at most 48 characters)",
      );
    }
    const keyFile = values.required("key");
    const ttl = values.integer("ttl", DEFAULT_TTL_SECONDS, { min: 1, max: 10 * 365 * 86_400 });
    const requested = values.list("service");
    const services = requested.includes("all")
      ? ALL_SERVICES
      : requested.length
      ? [...new Set(requested)]
      : ["pairing"];
    for (const service of services) {
      if (!(service in SERVICE_CLAIMS)) {
        throw new UsageError(
          `--service ${JSON.stringify(service)} is not one of ${ALL_SERVICES.join(", ")}, all`,
        );
      }
    }
    const pem = await readTextArgument(keyFile, "--key");
    const key = await importSigningKey(pem, keyFile);
    const iat = Math.floor(Date.now() / 1000);
    const claims: Record<string, unknown> = { iat, exp: iat + ttl };
    for (const service of services) {
      const { claim, value } = SERVICE_CLAIMS[service]!;
      claims[claim] = [...value];
    }
    const token = await signJws(key, claims);
    const expiresAt = new Date((iat + ttl) * 1000).toISOString();
    if (values.flag("json")) {
      out.json({ token, algorithm: key.alg, claims, expiresAt });
    } else {
      out.line(token);
    }
    out.note(
      `note: ${key.alg} token${realm ? ` for realm "${realm}"` : ""} (${
        services.join(", ")
      }); it expires in ${describeTtl(ttl)}, at ${expiresAt}`,
    );
    return 0;
  },
};
