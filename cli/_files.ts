/**
 * Private helpers of the CLI: reading files named on the command line with errors that name
 * the option, and writing secrets to owner-only files.
 *
 * @module
 */
import { CommandFailure } from "./_args.ts";

/** Reads a text file named by `option`; a missing or unreadable file is a one-line failure. */
export async function readTextArgument(path: string, option: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    throw new CommandFailure(`Cannot read ${option} ${JSON.stringify(path)}: ${reason(error)}`);
  }
}

/** Writes `text` to `path` readable and writable by the owner only (mode 0600). */
export async function writeSecretFile(path: string, text: string): Promise<void> {
  try {
    // `mode` applies only when the file is created: an existing file is truncated and made
    // owner-only before the secret is written into it.
    using file = await Deno.open(path, { write: true, create: true, truncate: true, mode: 0o600 });
    if (Deno.build.os !== "windows") await Deno.chmod(path, 0o600);
    const bytes = new TextEncoder().encode(text);
    for (let done = 0; done < bytes.length;) done += await file.write(bytes.subarray(done));
  } catch (error) {
    throw new CommandFailure(`Cannot write ${JSON.stringify(path)}: ${reason(error)}`);
  }
}

/** A short reason for a file-system error. */
export function reason(error: unknown): string {
  if (error instanceof Deno.errors.NotFound) return "no such file or directory";
  if (error instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (error instanceof Deno.errors.IsADirectory) return "is a directory";
  if (error instanceof Error) return error.message.split("\n")[0]!.replace(/, \w+ '.*'$/, "");
  return String(error);
}
