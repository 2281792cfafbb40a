/**
 * Private helper of the dev server: the one HTTP server of its APIs (Pairing under `/pairing`,
 * AppEngine and Realm Management, and `GET /` describing the URLs).
 *
 * @module
 */
import type { ServerLogger } from "../testing/realm_server.ts";
import { jsonResponse } from "./_http.ts";
import type { AppEngineHandler } from "./appengine_api.ts";
import type { PairingApiHandler } from "./pairing_api.ts";
import { addrInUse } from "./_device_broker.ts";

/** What {@link serveApis} serves and where. */
export interface ApiServerOptions {
  /** Address to listen on. */
  readonly hostname: string;
  /** Port to listen on (0: a free one). */
  readonly port: number;
  /** Replace a taken `port` (the port of the last run) by a free one, with a warning. */
  readonly fallback: boolean;
  /** The Pairing API, mounted under `/pairing`. */
  readonly pairing: PairingApiHandler;
  /** The AppEngine and Realm Management handler. */
  readonly appEngine: AppEngineHandler;
  /** The body of `GET /` (the URLs of the server). */
  readonly describe: () => Record<string, string>;
  /** Log sink (`debug`: one line per request). */
  readonly log: ServerLogger | undefined;
  /** Reports a failing handler. */
  readonly reportError: (error: unknown, context: string) => void;
}

/** Starts the HTTP server of the dev server's APIs. */
export function serveApis(options: ApiServerOptions): Deno.HttpServer<Deno.NetAddr> {
  const { pairing, appEngine, log } = options;
  const handler = async (req: Request, info: Deno.ServeHandlerInfo<Deno.NetAddr>) => {
    const path = new URL(req.url).pathname;
    let response: Response;
    if (path === "/pairing" || path.startsWith("/pairing/")) {
      response = await pairing.handle(req, info.remoteAddr.hostname);
    } else {
      response = await appEngine(req) ??
        (path === "/" && req.method === "GET"
          ? jsonResponse(200, { data: options.describe() })
          : jsonResponse(404, { errors: { detail: "Not found" } }));
    }
    log?.debug?.(`${req.method} ${path} ${response.status}`);
    return response;
  };
  const serveOptions = {
    hostname: options.hostname,
    onListen() {},
    onError: (error: unknown) => {
      options.reportError(error, "HTTP handler");
      return jsonResponse(500, { errors: { detail: "Internal server error" } });
    },
  };
  try {
    return Deno.serve({ ...serveOptions, port: options.port }, handler);
  } catch (error) {
    if (!options.fallback || !addrInUse(error)) throw error;
    log?.warn?.(`HTTP port ${options.port} of the last run is taken: using a free port`);
    return Deno.serve({ ...serveOptions, port: 0 }, handler);
  }
}
