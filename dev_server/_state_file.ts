/**
 * Private helper of the dev server: its state folder. `state.json` (mode 0600: it holds the CA
 * and realm private keys) is replaced atomically (write a temporary file, then rename), at most
 * once a second while things change and on close; `ca.pem` is the CA certificate, at a stable
 * path for devices to use.
 *
 * @module
 */
import type { RealmServerState } from "../testing/realm_server.ts";
import type { LocalCaState } from "./local_ca.ts";
import type { PairingApiState } from "./pairing_api.ts";

/** What the dev server keeps across restarts. */
export interface SavedDevServer {
  /** Format version. */
  readonly version: 1;
  /** The realm; a state folder serves one realm. */
  readonly realm: string;
  /** Ports used last time, reused when none is given. */
  readonly httpPort: number;
  /** MQTT port used last time. */
  readonly mqttPort: number;
  /** The local CA (key, certificate, current device certificates). */
  readonly ca: LocalCaState;
  /** The Pairing API (realm key, registered devices). */
  readonly pairing: PairingApiState;
  /** Interfaces and device data. */
  readonly realmServer: RealmServerState;
  /** Last connection facts per device ID (ms since the epoch). */
  readonly connections: Readonly<
    Record<string, { lastConnection?: number; lastDisconnection?: number; lastSeenIp?: string }>
  >;
}

const STATE = "state.json";
/** Delay between a change and the write that saves it, so that bursts make one write. */
const SAVE_DELAY_MS = 1_000;

/**
 * Reads `state.json` of `dir`.
 *
 * @returns the saved state, or `undefined` when the folder has none yet
 * @throws {Error} when the file exists but cannot be read or parsed
 */
export async function loadSavedState(dir: string): Promise<SavedDevServer | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(`${dir}/${STATE}`);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw new Error(`Cannot read the dev server state ${dir}/${STATE}: ${error}`, {
      cause: error,
    });
  }
  let saved: SavedDevServer;
  try {
    saved = JSON.parse(text);
  } catch (error) {
    throw new Error(`The dev server state ${dir}/${STATE} is not valid JSON: ${error}`, {
      cause: error,
    });
  }
  if (saved?.version !== 1) {
    throw new Error(`The dev server state ${dir}/${STATE} has an unknown format`);
  }
  return saved;
}

/** Saves the state of a dev server to its folder, debounced and one write at a time. */
export class StateSaver {
  readonly #dir: string;
  readonly #collect: () => Promise<SavedDevServer>;
  readonly #onError: (error: unknown) => void;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #chain: Promise<void> = Promise.resolve();
  #closed = false;

  /**
   * @param dir the state folder
   * @param collect builds the state to save
   * @param onError receives write failures (the server keeps running)
   */
  constructor(
    dir: string,
    collect: () => Promise<SavedDevServer>,
    onError: (error: unknown) => void,
  ) {
    this.#dir = dir;
    this.#collect = collect;
    this.#onError = onError;
  }

  /** Creates the folder (mode 0700) and writes `ca.pem`. */
  async init(caPem: string): Promise<void> {
    await Deno.mkdir(this.#dir, { recursive: true, mode: 0o700 });
    await Deno.writeTextFile(`${this.#dir}/ca.pem`, caPem);
  }

  /** Path of the CA certificate file. */
  get caFile(): string {
    return `${this.#dir}/ca.pem`;
  }

  /** Something changed: save soon. */
  schedule(): void {
    if (this.#closed || this.#timer !== undefined) return;
    const timer = setTimeout(() => {
      this.#timer = undefined;
      void this.flush();
    }, SAVE_DELAY_MS);
    Deno.unrefTimer(timer);
    this.#timer = timer;
  }

  /** Saves now (after any write in progress). Never rejects: failures go to `onError`. */
  flush(): Promise<void> {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    this.#chain = this.#chain.then(() => this.#write()).catch((error) => this.#onError(error));
    return this.#chain;
  }

  /** Saves a last time and stops scheduling. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.flush();
  }

  async #write(): Promise<void> {
    const state = await this.#collect();
    const tmp = `${this.#dir}/${STATE}.tmp`;
    await Deno.writeTextFile(tmp, JSON.stringify(state), { mode: 0o600 });
    await Deno.rename(tmp, `${this.#dir}/${STATE}`);
  }
}
