/**
 * Typed interfaces: compile-time checked sends and receives, generated from the interface files.
 *
 * 1. Generate a module from the interface files, with the CLI
 *    (`deno run -A jsr:@astarte-deno/device-sdk/cli interfaces codegen interfaces/ -o
 *    src/generated/interfaces.ts`) or with {@link generateInterfaceTypes}.
 * 2. Wrap the device with {@link typedDevice}: a misspelled path, a value of the wrong type, a
 *    missing or superfluous timestamp, a send on a server-owned interface or an unset without
 *    `allow_unset` no longer compiles.
 * 3. In CI, {@link checkInterfaceTypes} (`interfaces codegen --check`) fails when the module is
 *    stale; at run time `typedDevice()` refuses an interface whose loaded document differs from
 *    the one the types were generated from.
 *
 * @example Generate, then use
 * ```ts ignore
 * import { Device } from "@astarte-deno/device-sdk";
 * import { typedDevice } from "@astarte-deno/device-sdk/typed";
 * import { allInterfaces, OrgAstartePlatformGenericsensorsValues as Values } from "./generated/interfaces.ts";
 *
 * const device = new Device({ deviceId, realm, credentialsSecret, pairingUrl });
 * for (const iface of allInterfaces) await device.addInterface(iface.json);
 * const values = typedDevice(device, Values);
 * await device.connect();
 * await values.send("/kitchen/value", 21.5, { timestamp: new Date() });
 * ```
 *
 * @example What `interfaces codegen <inputs> -o <file> [--check]` does
 * ```ts ignore
 * import {
 *   checkInterfaceTypes,
 *   codegenCommand,
 *   generateInterfaceTypes,
 * } from "@astarte-deno/device-sdk/typed";
 *
 * const options = { command: codegenCommand(inputs, output) }; // named in drift errors
 * if (check) {
 *   const result = checkInterfaceTypes(await Deno.readTextFile(output), documents, options);
 *   if (!result.upToDate) throw new Error(result.message); // exit non-zero
 * } else {
 *   await Deno.writeTextFile(output, generateInterfaceTypes(documents, options));
 * }
 * ```
 *
 * @module
 */
export {
  checkInterfaceTypes,
  CODEGEN_COMMAND,
  codegenCommand,
  type GeneratedCheck,
  generateInterfaceTypes,
  type GenerateOptions,
} from "./generate.ts";
export { canonicalInterfaceJson, interfaceHash } from "./hash.ts";
export type {
  EndpointSchema,
  InterfaceDocument,
  InterfaceSchema,
  MappingDocument,
  ObjectSchema,
  TypedInterface,
} from "./schema.ts";
export { type TypedDevice, typedDevice, type TypedInterfaceHandle } from "./typed_device.ts";
export type * from "./types.ts";
