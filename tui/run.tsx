/**
 * `hastmon tui` and `hastmon demo` once the CLI has checked the terminal:
 * render the console until q, Ctrl-C, SIGTERM or SIGHUP, then restore the
 * terminal and close every connection (and, for the demo, everything it
 * started). Loaded only by these two commands: Ink and React stay out of the
 * daemon and of `hastmon ctl`.
 */
import process from "node:process";
import type { ReactElement } from "react";
import { render } from "ink";
import { App } from "./app.tsx";
import { LiveCluster } from "./source.ts";
import { DemoController } from "../src/demo/controller.ts";

/** Render `app` until it quits or a signal asks; the terminal is restored in every case. */
async function renderUntilQuit(app: ReactElement): Promise<void> {
  // A terminal that goes away (tmux kill-session, a closed ssh) makes Ink's last writes
  // fail with EPIPE or EIO: that must not stop the clean-up that follows.
  const ignore = () => {};
  process.stdout.on("error", ignore);
  const inst = render(app, { exitOnCtrlC: true });
  const quit = () => inst.unmount();
  const signals: Deno.Signal[] = ["SIGTERM", "SIGHUP", "SIGINT"];
  for (const s of signals) Deno.addSignalListener(s, quit);
  try {
    await inst.waitUntilExit();
  } finally {
    for (const s of signals) Deno.removeSignalListener(s, quit);
  }
}

/** The console on the daemons behind `sockets`. */
export async function runConsole(sockets: readonly string[]): Promise<void> {
  const source = new LiveCluster(sockets);
  source.start();
  try {
    await renderUntilQuit(<App source={source} title="hastmon" />);
  } finally {
    await source.close();
  }
}

/** The demo: three daemons in a temporary directory, the console on all three, faults at a key. */
export async function runDemo(io: { err: (s: string) => void }): Promise<void> {
  const demo = await DemoController.create();
  const source = new LiveCluster(demo.controlPaths());
  source.start();
  const started = demo.start();
  try {
    await renderUntilQuit(<App source={source} title="hastmon demo" demo={demo} />);
  } finally {
    await source.close();
    await started;
    await demo.close();
    try {
      io.err(`hastmon demo: stopped everything and removed ${demo.cluster.dir}\n`);
    } catch { /* the terminal is gone */ }
  }
}
