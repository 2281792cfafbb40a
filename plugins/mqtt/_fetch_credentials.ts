/**
 * Asking the credentials provider of {@link MqttTransport}, first step of a connection attempt.
 * Private to the MQTT plugin.
 *
 * @module
 */
import { AstarteError } from "../../src/errors.ts";
import type { MqttCredentials } from "./mqtt_credentials.ts";
import type { MqttTransportOptions } from "./mqtt_transport_options.ts";
import { errorText } from "./_errors.ts";

/**
 * Calls `options.credentials`, raced with `signal` so that a provider that ignores it cannot
 * hold up an abort.
 *
 * @param options the transport's options (the provider is called as their method)
 * @param signal aborts the attempt
 * @param renew ask for a renewed certificate
 * @returns the credentials
 * @throws the signal's reason when it is aborted; the provider's {@link AstarteError} as is;
 * {AstarteError} `transport-failed` wrapping any other failure, permanent for a `TypeError` or
 * `RangeError` (a configuration error: retrying cannot help)
 */
export async function fetchCredentials(
  options: MqttTransportOptions,
  signal: AbortSignal,
  renew: boolean,
): Promise<MqttCredentials> {
  try {
    const request = options.credentials({ signal, renew });
    request.catch(() => {});
    let onAbort!: () => void;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(signal.reason);
      signal.addEventListener("abort", onAbort, { once: true });
    });
    aborted.catch(() => {});
    const credentials = await Promise.race([request, aborted]).finally(() =>
      signal.removeEventListener("abort", onAbort)
    );
    return credentials;
  } catch (error) {
    if (signal.aborted) throw signal.reason;
    if (error instanceof AstarteError) throw error;
    throw new AstarteError(
      "transport-failed",
      `Cannot connect: the credentials provider failed: ${errorText(error)}`,
      { cause: error, permanent: error instanceof TypeError || error instanceof RangeError },
    );
  }
}
