/**
 * Step 2 of "Your first device": register the device with an agent JWT and get its
 * credentials secret. Registration happens once per device: keep the secret (a persistent
 * store can hold it); registering again after the device has connected is refused.
 *
 * The embedded dev server issues the JWT (valid one hour). Against a real Astarte, the JWT is
 * signed with the realm's private key (`deno task cli jwt --realm <realm> --key <key.pem>`):
 *   ASTARTE_PAIRING_URL=https://api.<cluster>/pairing ASTARTE_REALM=<realm> ASTARTE_JWT=<jwt> \
 *     deno run -A examples/02_register.ts
 *
 * Run: deno run --allow-read --allow-write --allow-net=127.0.0.1,localhost --allow-env --allow-sys examples/02_register.ts
 *
 * @module
 */
import { generateDeviceId, registerDevice } from "../mod.ts";
import { openTarget } from "./_connect.ts";

await using target = await openTarget();
const deviceId = target.deviceId ??
  await generateDeviceId("f79ad91f-c638-4889-ae74-9d001a3b4cf8", `register-${Date.now()}`);

const credentialsSecret = await registerDevice({
  deviceId,
  realm: target.realm,
  jwt: await target.jwt(),
  pairingUrl: target.pairingUrl,
  ca: target.ca, // only for a private CA, such as the dev server's
});

// Never print or log the secret itself: it is the device's password.
console.log(
  `registered ${deviceId} in realm ${target.realm}: credentials secret of ` +
    `${credentialsSecret.length} characters received`,
);
