/** hastmon: one executable for the daemon, the control CLI and the console. */

if (import.meta.main) {
  // `hastmon guard`, the daemon's dead man's switch (src/daemon/guard.ts), is run by the
  // daemon itself (in the single-file forms; from source it runs guard_main.ts), never by
  // people: it is not a command of the command line, whose modules (and an option parser)
  // it would otherwise load and keep for its whole life.
  if (Deno.args[0] === "guard") {
    const { guardMain } = await import("./src/daemon/guard_main.ts");
    // Exit here: a stop hook may leave processes that hold the guard's output pipes open.
    Deno.exit(await guardMain(Deno.args.slice(1)));
  }
  // The daemon from its options alone when they are plain (src/cli/daemon_args.ts): it runs
  // for months and need not keep the command line's parser. Anything else (--help, a
  // mistake) goes through the command line like any command.
  if (Deno.args[0] === "daemon") {
    const { daemonMain } = await import("./src/cli/daemon_run.ts");
    const code = await daemonMain(Deno.args.slice(1));
    if (code !== null) Deno.exit(code);
  }
  const { runCli } = await import("./src/cli/main.ts");
  Deno.exit(await runCli(Deno.args));
}
