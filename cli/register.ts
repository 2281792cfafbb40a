/**
 * `register`: registers a device with an agent JWT and hands back its credentials secret, on
 * stdout or in an owner-only file. The JWT is never printed.
 *
 * @module
 */
import { registerDevice } from "../mod.ts";
import { CommandFailure, type ParsedValues, UsageError } from "./_args.ts";
import type { Command } from "./_command.ts";
import { checkRealm, deviceIdOption, PAIRING_OPTIONS } from "./_device.ts";
import { readTextArgument, writeSecretFile } from "./_files.ts";
import { describeError } from "./_io.ts";

/** The agent JWT: `--jwt-file`, else `--jwt` / `ASTARTE_JWT`. */
export async function jwtOption(values: ParsedValues): Promise<string> {
  const file = values.string("jwt-file");
  const jwt = file !== undefined
    ? (await readTextArgument(file, "--jwt-file")).trim()
    : values.string("jwt");
  if (jwt === undefined || jwt === "") {
    throw new UsageError("missing --jwt (or ASTARTE_JWT, or --jwt-file)");
  }
  if (jwt.split(".").length !== 3) {
    // Say what is wrong without echoing the token.
    throw new UsageError("--jwt is not a JWT (expected three dot-separated base64url parts)");
  }
  return jwt;
}

/** The `--jwt` and `--jwt-file` options. */
export const JWT_OPTIONS = {
  jwt: {
    type: "string",
    value: "TOKEN",
    help: "Agent JWT allowing the Pairing API (from `jwt`; prefer the env variable or a file)",
    env: "ASTARTE_JWT",
  },
  "jwt-file": { type: "string", value: "FILE", help: "File holding the agent JWT" },
} as const;

/** The `register` command. */
export const registerCommand: Command = {
  name: "register",
  summary: "Register a device and print its credentials secret",
  description: "Registers the device with the Pairing API using an agent JWT. The credentials " +
    "secret goes to stdout, or with --out to a file only its owner can read (mode 0600); it is " +
    "all a device needs to obtain its certificate, so store it like a password. A device can be " +
    "registered again until it has connected once; after that Pairing refuses (unregister it " +
    "first).",
  options: {
    ...PAIRING_OPTIONS,
    ...JWT_OPTIONS,
    "device-id": {
      type: "string",
      short: "d",
      value: "ID",
      help: "Device ID to register (from `id random` or `id namespaced`)",
      env: "ASTARTE_DEVICE_ID",
    },
    out: {
      type: "string",
      short: "o",
      value: "FILE",
      help: "Write the secret to FILE (mode 0600)",
    },
    ca: {
      type: "string",
      value: "FILE",
      help: "Extra CA certificate (PEM) for the Pairing API",
      env: "ASTARTE_CA_FILE",
    },
    json: {
      type: "boolean",
      help: "Print JSON: {deviceId, credentialsSecret} or, with --out, {deviceId, file}",
    },
  },
  examples: [
    "register --realm myrealm --pairing-url https://api.example.com/pairing \\\n" +
    "    --jwt-file agent.jwt --device-id 2TBn-jNESuuHamE2Zo1anA --out device.secret",
  ],
  async run({ values }, { out, signal }) {
    const realm = checkRealm(values.required("realm"));
    const pairingUrl = values.required("pairing-url");
    try {
      new URL(pairingUrl);
    } catch {
      throw new UsageError(`--pairing-url ${JSON.stringify(pairingUrl)} is not a URL`);
    }
    const deviceId = deviceIdOption(values);
    const jwt = await jwtOption(values);
    const file = values.string("out");
    const caFile = values.string("ca");
    const ca = caFile === undefined ? undefined : await readTextArgument(caFile, "--ca");
    let credentialsSecret: string;
    try {
      credentialsSecret = await registerDevice({
        deviceId,
        realm,
        pairingUrl,
        jwt,
        ca,
        signal,
      });
    } catch (error) {
      // The library refuses bad settings (e.g. plain http to a remote host) with a TypeError.
      if (error instanceof TypeError) throw new UsageError(error.message);
      throw new CommandFailure(`Cannot register ${realm}/${deviceId}: ${describeError(error)}`);
    }
    if (file !== undefined) {
      await writeSecretFile(file, credentialsSecret + "\n");
      if (values.flag("json")) out.json({ deviceId, file });
      out.note(
        `registered ${realm}/${deviceId}; credentials secret written to ${file} (mode 0600)`,
      );
    } else {
      if (values.flag("json")) out.json({ deviceId, credentialsSecret });
      else out.line(credentialsSecret);
      out.note(`registered ${realm}/${deviceId}; keep the credentials secret private`);
    }
    return 0;
  },
};
