/**
 * The AppEngine and Realm Management halves of the embedded Astarte dev server: the HTTP calls
 * a device developer makes against a real cluster, with the same URL layout and JSON envelopes
 * (`{"data": ...}` in and out, `{"errors": {"detail": ...}}` on failure), so that the same
 * `curl` lines work against both.
 *
 * AppEngine (`/appengine/v1/<realm>/...`):
 * - `GET devices` (`?details=true` for full statuses), `GET devices/<id>` (introspection,
 *   connection status, traffic), `GET devices/<id>/interfaces`, `GET stats/devices`;
 * - `GET devices/<id>/interfaces/<interface>[/<path>]`: properties as a tree of values;
 *   datastreams as the last value per path (`{value, timestamp, reception_timestamp}`) at the
 *   interface level, or the list of stored values of one path (`?limit=N`: the last N);
 * - `PUT`/`POST devices/<id>/interfaces/<interface>/<path>` with `{"data": value}`: sends a
 *   server-owned property or datastream value (an object for object aggregation) to the device;
 * - `DELETE devices/<id>/interfaces/<interface>/<path>`: unsets a server-owned property.
 *
 * Realm Management (`/realmmanagement/v1/<realm>/...`): `GET interfaces`,
 * `GET interfaces/<name>`, `GET interfaces/<name>/<major>`, `POST interfaces` with
 * `{"data": <interface>}` (installs it at runtime), `PUT interfaces/<name>/<major>` (minor
 * update).
 *
 * Values in JSON: `binaryblob` as base64, `datetime` as ISO 8601, `longinteger` as a number, or a
 * decimal string beyond 2^53 (accepted both ways when sending).
 *
 * @module
 */
import { AstarteError } from "../src/errors.ts";
import { type Interface, parseInterface } from "../src/interface/interface.ts";
import type { DatastreamSample, RealmServer } from "../testing/realm_server.ts";
import { isRecord, jsonResponse } from "./_http.ts";
import { JsonValueError, objectFromJson, valueFromJson, valueToJson } from "./_json_values.ts";
import { allowedByAPa, bearerToken } from "./_jwt.ts";
import type { DevDevice } from "./pairing_api.ts";
// Type-only: dev_server.ts builds the backend from its own handle, so no module cycle at run time.
import type { DevServer } from "./dev_server.ts";

/** Connection facts about a device, as the broker saw them. */
export interface DeviceConnectionInfo {
  /** Whether the device is connected now. */
  readonly connected: boolean;
  /** Last CONNACK sent to it. */
  readonly lastConnection?: Date;
  /** End of its last connection. */
  readonly lastDisconnection?: Date;
  /** Address of its last connection. */
  readonly lastSeenIp?: string;
}

/**
 * What the AppEngine API works on: the dev server's own realm, device list and send verbs, plus
 * the realm server, one-device lookup and JWT check the routes need.
 */
export interface AppEngineBackend extends
  Pick<
    DevServer,
    | "realm"
    | "devices"
    | "connection"
    | "send"
    | "sendAggregate"
    | "setProperty"
    | "unsetProperty"
    | "installInterface"
  > {
  /** The realm's server semantics and stored data. */
  readonly server: RealmServer;
  /** One registered device. */
  device(deviceId: string): DevDevice | undefined;
  /**
   * Checks a JWT of this realm.
   *
   * @returns its claims, or `undefined` when invalid or expired
   */
  verifyJwt(token: string): Promise<Record<string, unknown> | undefined>;
}

/** Options of {@link createAppEngineApi}. */
export interface AppEngineApiOptions {
  /**
   * Require `Authorization: Bearer <JWT of this realm>` on every call. Otherwise calls without
   * the header are accepted, and a header, when present, is checked as a real cluster would.
   * @default false
   */
  readonly requireAuth?: boolean;
}

/** Answers requests under `/appengine/` and `/realmmanagement/`; `undefined` for other paths. */
export type AppEngineHandler = (req: Request) => Promise<Response | undefined>;

const NOT_FOUND = { errors: { detail: "Not found" } };

function error(status: number, detail: string): Response {
  return jsonResponse(status, { errors: { detail } });
}

/**
 * Creates the AppEngine and Realm Management request handler.
 *
 * @param backend the realm's devices, data and actions
 * @param options authentication
 * @returns the handler
 *
 * @example
 * ```ts ignore
 * import { createAppEngineApi } from "./appengine_api.ts";
 * const appEngine = createAppEngineApi(backend);
 * Deno.serve(async (req) => (await appEngine(req)) ?? new Response(null, { status: 404 }));
 * ```
 */
export function createAppEngineApi(
  backend: AppEngineBackend,
  options: AppEngineApiOptions = {},
): AppEngineHandler {
  const api = new AppEngineApi(backend, options);
  return (req) => api.handle(req);
}

class AppEngineApi {
  readonly #b: AppEngineBackend;
  readonly #options: AppEngineApiOptions;

  constructor(backend: AppEngineBackend, options: AppEngineApiOptions) {
    this.#b = backend;
    this.#options = options;
  }

  async handle(req: Request): Promise<Response | undefined> {
    const url = new URL(req.url);
    let segments: string[];
    try {
      segments = url.pathname.split("/").slice(1).map(decodeURIComponent);
    } catch {
      return undefined;
    }
    if (segments.at(-1) === "") segments.pop();
    const [api, version, realm, ...rest] = segments;
    if (api !== "appengine" && api !== "realmmanagement") return undefined;
    if (version !== "v1" || realm === undefined) return jsonResponse(404, NOT_FOUND);
    if (realm !== this.#b.realm) {
      return error(
        403,
        `Realm "${realm}" does not exist here: this dev server serves "${this.#b.realm}"`,
      );
    }
    const claim = api === "appengine" ? "a_aea" : "a_rma";
    const denied = await this.#authorize(req, claim, rest.join("/"));
    if (denied) return denied;
    try {
      return api === "appengine"
        ? await this.#appEngine(req, url, rest)
        : await this.#realmManagement(req, rest);
    } catch (err) {
      if (err instanceof BadRequest) return error(err.status, err.message);
      throw err;
    }
  }

  async #authorize(req: Request, claim: string, path: string): Promise<Response | undefined> {
    const token = bearerToken(req);
    if (token === undefined) {
      return this.#options.requireAuth
        ? error(401, "Missing authorization token (Authorization: Bearer <JWT>)")
        : undefined;
    }
    const claims = await this.#b.verifyJwt(token);
    if (claims === undefined) {
      return error(
        401,
        "Invalid JWT token: expired, or not signed by this dev server's realm key " +
          "(use a token it issued, or send no Authorization header)",
      );
    }
    if (!allowedByAPa(claims[claim], req.method, path)) {
      return error(
        403,
        `Unauthorized access to ${req.method} ${path}: the token's ${claim} claim does not allow ` +
          "it. Please verify your permissions",
      );
    }
    return undefined;
  }

  // ---------------------------------------------------------------------------------------
  // AppEngine

  async #appEngine(req: Request, url: URL, rest: string[]): Promise<Response> {
    const method = req.method;
    const [area, deviceId, sub, interfaceName, ...pathSegments] = rest;
    if (area === "stats" && deviceId === "devices" && rest.length === 2 && method === "GET") {
      const devices = this.#b.devices();
      return jsonResponse(200, {
        data: {
          total_devices: devices.length,
          connected_devices: devices.filter((d) => this.#b.connection(d.deviceId).connected)
            .length,
        },
      });
    }
    if (area !== "devices") return jsonResponse(404, NOT_FOUND);
    if (deviceId === undefined) {
      if (method !== "GET") return error(405, "Method not allowed");
      const devices = this.#b.devices();
      const details = url.searchParams.get("details") === "true";
      return jsonResponse(200, {
        data: details ? devices.map((d) => this.#status(d)) : devices.map((d) => d.deviceId),
        links: { self: `/v1/${this.#b.realm}/devices${details ? "?details=true" : ""}` },
      });
    }
    const device = this.#b.device(deviceId);
    if (!device) return error(404, "Device not found");
    if (sub === undefined) {
      if (method !== "GET") return error(405, "Method not allowed");
      return jsonResponse(200, { data: this.#status(device) });
    }
    if (sub !== "interfaces") return jsonResponse(404, NOT_FOUND);
    if (interfaceName === undefined) {
      if (method !== "GET") return error(405, "Method not allowed");
      const names = (this.#b.server.introspection(deviceId) ?? [])
        .filter((e) => this.#b.server.getInterface(e.name, e.major) !== undefined)
        .map((e) => e.name);
      return jsonResponse(200, { data: names });
    }
    const iface = this.#introspected(deviceId, interfaceName);
    const path = pathSegments.length ? `/${pathSegments.join("/")}` : undefined;
    switch (method) {
      case "GET":
        return this.#read(deviceId, iface, path, url);
      case "PUT":
      case "POST":
        return await this.#write(req, deviceId, iface, path);
      case "DELETE":
        return await this.#delete(deviceId, iface, path);
      default:
        return error(405, "Method not allowed");
    }
  }

  #introspected(deviceId: string, name: string): Interface {
    const entry = this.#b.server.introspection(deviceId)?.find((e) => e.name === name);
    if (!entry) throw new BadRequest(404, "Interface not found in device introspection");
    const iface = this.#b.server.getInterface(name, entry.major);
    if (!iface) {
      throw new BadRequest(
        404,
        `Interface not found: ${name} v${entry.major} is in the device introspection but not ` +
          "installed in the realm",
      );
    }
    return iface;
  }

  #status(device: DevDevice): Record<string, unknown> {
    const server = this.#b.server;
    const connection = this.#b.connection(device.deviceId);
    const traffic = server.traffic(device.deviceId);
    const introspection: Record<string, unknown> = {};
    for (const entry of server.introspection(device.deviceId) ?? []) {
      const counter = traffic.byInterface.get(entry.name);
      introspection[entry.name] = {
        major: entry.major,
        minor: entry.minor,
        exchanged_msgs: counter?.messages ?? 0,
        exchanged_bytes: counter?.bytes ?? 0,
      };
    }
    const iso = (date: Date | undefined) => date?.toISOString() ?? null;
    return {
      id: device.deviceId,
      aliases: {},
      attributes: {},
      introspection,
      connected: connection.connected,
      last_connection: iso(connection.lastConnection),
      last_disconnection: iso(connection.lastDisconnection),
      first_registration: iso(device.firstRegistration),
      first_credentials_request: iso(device.firstCredentialsRequest),
      last_seen_ip: connection.lastSeenIp ?? null,
      last_credentials_request_ip: device.lastCredentialsRequestIp ?? null,
      credentials_inhibited: device.status === "inhibited",
      total_received_msgs: traffic.messages,
      total_received_bytes: traffic.bytes,
      groups: [],
      previous_interfaces: [],
      deletion_in_progress: false,
    };
  }

  #read(deviceId: string, iface: Interface, path: string | undefined, url: URL): Response {
    const server = this.#b.server;
    const prefix = iface.name;
    if (path !== undefined) this.#checkEndpoint(iface, path);
    if (iface.type === "properties") {
      const source = iface.ownership === "device"
        ? server.deviceProperties(deviceId)
        : server.serverProperties(deviceId);
      const values = new Map<string, unknown>();
      for (const [key, value] of source) {
        if (key.startsWith(prefix + "/")) values.set(key.slice(prefix.length), valueToJson(value));
      }
      return jsonResponse(200, { data: select(values, path) });
    }
    const history = new Map<string, readonly DatastreamSample[]>();
    for (const [key, samples] of server.datastreamValues(deviceId)) {
      if (key.startsWith(prefix + "/")) history.set(key.slice(prefix.length), samples);
    }
    const object = iface.aggregation === "object";
    const exact = path !== undefined && history.get(path);
    if (exact && (object || iface.mappingFor(path) !== undefined)) {
      const limit = Number(url.searchParams.get("limit") ?? Infinity);
      const samples = Number.isInteger(limit) && limit > 0 ? exact.slice(-limit) : exact;
      return jsonResponse(200, {
        data: samples.map((s) =>
          object
            ? { timestamp: s.timestamp.toISOString(), ...(valueToJson(s.value) as object) }
            : { timestamp: s.timestamp.toISOString(), value: valueToJson(s.value) }
        ),
      });
    }
    const values = new Map<string, unknown>();
    for (const [p, samples] of history) {
      const last = samples.at(-1);
      if (!last) continue;
      values.set(
        p,
        object
          ? samples.map((s) => ({
            timestamp: s.timestamp.toISOString(),
            ...(valueToJson(s.value) as object),
          }))
          : {
            value: valueToJson(last.value),
            timestamp: last.timestamp.toISOString(),
            reception_timestamp: last.receptionTimestamp.toISOString(),
          },
      );
    }
    return jsonResponse(200, { data: select(values, path) });
  }

  #checkEndpoint(iface: Interface, path: string): void {
    const kind = iface.resolve(path).kind;
    if (kind === "invalid" || kind === "not-found") throw new BadRequest(404, "Endpoint not found");
  }

  async #write(
    req: Request,
    deviceId: string,
    iface: Interface,
    path: string | undefined,
  ): Promise<Response> {
    if (iface.ownership !== "server") {
      return error(403, `Cannot write to device owned resource: ${iface.name} is device-owned`);
    }
    if (path === undefined) return error(405, "A path is required to write a value");
    let body: unknown;
    try {
      body = await req.json();
    } catch {
      return error(400, 'Bad request: the body must be JSON of the form {"data": <value>}');
    }
    if (!isRecord(body) || !("data" in body)) {
      return error(400, 'Bad request: the body must be JSON of the form {"data": <value>}');
    }
    const where = `${iface.name}${path}`;
    try {
      if (iface.aggregation === "object") {
        const mappings = iface.objectMappingsFor(path);
        if (!mappings) return error(404, "Endpoint not found");
        const value = objectFromJson(mappings, body.data, where);
        await this.#b.sendAggregate(deviceId, iface.name, path, value);
      } else {
        const mapping = iface.mappingFor(path);
        if (!mapping) return error(404, "Endpoint not found");
        const value = valueFromJson(mapping.type, body.data, where);
        if (iface.type === "properties") {
          await this.#b.setProperty(deviceId, iface.name, path, value);
        } else {
          await this.#b.send(deviceId, iface.name, path, value);
        }
      }
    } catch (err) {
      return failure(err);
    }
    return jsonResponse(200, { data: body.data });
  }

  async #delete(deviceId: string, iface: Interface, path: string | undefined): Promise<Response> {
    if (iface.ownership !== "server") {
      return error(403, `Cannot write to device owned resource: ${iface.name} is device-owned`);
    }
    if (path === undefined || iface.mappingFor(path) === undefined) {
      return error(404, "Endpoint not found");
    }
    if (iface.type !== "properties") {
      return error(405, "Only properties can be deleted (unset)");
    }
    if (!this.#b.server.serverProperties(deviceId).has(iface.name + path)) {
      return error(404, "Path not found");
    }
    try {
      await this.#b.unsetProperty(deviceId, iface.name, path);
    } catch (err) {
      return failure(err);
    }
    return new Response(null, { status: 204 });
  }

  // ---------------------------------------------------------------------------------------
  // Realm Management

  async #realmManagement(req: Request, rest: string[]): Promise<Response> {
    const [area, name, majorText, ...extra] = rest;
    if (area !== "interfaces" || extra.length > 0) return jsonResponse(404, NOT_FOUND);
    const installed = this.#b.server.interfaces();
    if (name === undefined) {
      if (req.method === "GET") {
        return jsonResponse(200, { data: [...new Set(installed.map((i) => i.name))] });
      }
      if (req.method !== "POST") return error(405, "Method not allowed");
      const iface = await readInterface(req);
      if (this.#b.server.getInterface(iface.name, iface.major)) {
        return error(409, `Interface already exists: ${iface.name} v${iface.major}`);
      }
      this.#b.installInterface(iface);
      return jsonResponse(201, { data: iface.toJSON() });
    }
    const majors = installed.filter((i) => i.name === name).map((i) => i.major);
    if (majors.length === 0) return error(404, "Interface not found");
    if (majorText === undefined) {
      if (req.method !== "GET") return error(405, "Method not allowed");
      return jsonResponse(200, { data: majors });
    }
    const current = this.#b.server.getInterface(name, Number(majorText));
    if (!/^\d+$/.test(majorText) || !current) return error(404, "Interface not found");
    if (req.method === "GET") return jsonResponse(200, { data: current.toJSON() });
    if (req.method !== "PUT") return error(405, "Method not allowed");
    const iface = await readInterface(req);
    if (iface.name !== name || iface.major !== current.major) {
      return error(409, "Interface name and major version must match the URL");
    }
    if (iface.minor <= current.minor) {
      return error(
        409,
        `Interface minor version was not increased (installed ${current.major}.${current.minor})`,
      );
    }
    this.#b.installInterface(iface);
    return new Response(null, { status: 204 });
  }
}

/** A request that cannot be served; becomes `{errors: {detail: message}}` with `status`. */
class BadRequest extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

async function readInterface(req: Request): Promise<Interface> {
  let body: unknown;
  try {
    body = await req.json();
  } catch {
    throw new BadRequest(
      400,
      'Bad request: the body must be JSON of the form {"data": <interface>}',
    );
  }
  if (!isRecord(body) || !isRecord(body.data)) {
    throw new BadRequest(
      400,
      'Bad request: the body must be JSON of the form {"data": <interface>}',
    );
  }
  try {
    return parseInterface(body.data);
  } catch (err) {
    throw new BadRequest(422, (err as Error).message);
  }
}

function failure(err: unknown): Response {
  if (err instanceof JsonValueError) return error(422, err.message);
  if (err instanceof AstarteError) {
    if (err.code === "mapping-not-found" || err.code === "interface-not-found") {
      return error(404, err.message);
    }
    if (err.code === "transport-failed") return error(503, err.message);
    return error(422, err.message);
  }
  throw err;
}

/**
 * The value at `path` (relative to the interface, starting with `/`) of a flat path -> value
 * map, as a tree of path levels (`/a/b` -> `{a: {b: value}}`): the whole tree without a path,
 * the value itself for an exact path, the subtree for a prefix.
 *
 * @throws {BadRequest} 404 when nothing is stored at or under `path`
 */
function select(values: ReadonlyMap<string, unknown>, path: string | undefined): unknown {
  if (path !== undefined && values.has(path)) return values.get(path);
  const base = path === undefined ? "/" : `${path}/`;
  const tree: Record<string, unknown> = {};
  let found = false;
  for (const [p, value] of values) {
    if (!p.startsWith(base)) continue;
    found = true;
    const levels = p.slice(base.length).split("/");
    let node = tree;
    for (const level of levels.slice(0, -1)) {
      const next = node[level];
      node = isRecord(next) ? next : (node[level] = {}) as Record<string, unknown>;
    }
    node[levels.at(-1)!] = value;
  }
  if (!found && path !== undefined) throw new BadRequest(404, "Path not found");
  return tree;
}
