/** `hastmon keygen`: a node's key pair for per-node authentication (docs/SECURITY.md). */

import type { Command } from "@commander-js/extra-typings";
import { CliError, EX } from "./exit.ts";
import type { CliIO, Register } from "./main.ts";
import { generateNodeKey } from "../wire/node_keys.ts";

/** Register `hastmon keygen`. */
export const registerKeygen: Register = (program: Command, io: CliIO) => {
  program.command("keygen")
    .description(
      "write a new Ed25519 key pair for a node: the private key to a file (mode 0600, never " +
        "overwritten), the public key line to paste into the shared configuration",
    )
    .option("--node <name>", "the node the key is for (names the [on.NODE] section printed)")
    .option("-o, --output <file>", "where to write the private key", "hastmon-node.key")
    .addHelpText(
      "after",
      `
Examples:
  hastmon keygen --node alpha -o /usr/local/etc/hastmon/alpha.key
      then add to every node's configuration:
        [on.alpha]
        public_key = "ed25519:…"        # the line printed
        private_key_file = "/usr/local/etc/hastmon/alpha.key"
  Key rotation: see docs/SECURITY.md (list the old and the new public key during the change).`,
    )
    .action(async (opts) => {
      const { file, publicKey } = await generateNodeKey();
      try {
        // createNew (O_EXCL): an existing file, or a symlink planted there, is never written
        // through. The umask can only narrow 0600.
        const f = await Deno.open(opts.output, { write: true, createNew: true, mode: 0o600 });
        try {
          let off = 0;
          while (off < file.length) off += await f.write(file.subarray(off));
        } finally {
          f.close();
        }
      } catch (e) {
        if (e instanceof Deno.errors.AlreadyExists) {
          throw new CliError(
            `${opts.output} already exists: keygen never overwrites a key (remove it first, or ` +
              `choose another file with -o)`,
            EX.CANTCREAT,
          );
        }
        throw new CliError(`cannot write ${opts.output}: ${(e as Error).message}`, EX.CANTCREAT);
      }
      // The configuration resolves relative paths from its own directory, not from here:
      // the line to paste names the file absolutely.
      const written = await Deno.realPath(opts.output);
      io.err(`wrote the private key to ${written} (mode 0600)\n`);
      io.out(
        (opts.node ? `[on.${opts.node}]\n` : "") +
          `public_key = "${publicKey}"\n` +
          (opts.node ? `private_key_file = ${JSON.stringify(written)}\n` : ""),
      );
    });
};
