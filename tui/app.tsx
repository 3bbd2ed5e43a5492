/**
 * The console: header, matrix, details, (demo panel,) event log and footer,
 * fitted to the terminal and redrawn on resize. Keys: ↑↓/k j select, enter
 * details, r role change, s switch over, g give over, ? help, q quit, and in
 * the demo 1–6 inject faults. Role changes, switchovers and giveovers show
 * their dry-run plan and are sent only once confirmed.
 */
import { useCallback, useEffect, useState, useSyncExternalStore } from "react";
import { Box, useApp, useInput, useStdin, useStdout } from "ink";
import type { ClusterSource } from "./source.ts";
import { buildModel } from "./model.ts";
import { giveoverPlan, type Plan, roleChangePlan, roleChoices, switchoverPlan } from "./plan.ts";
import { Header } from "./components/header.tsx";
import { Matrix } from "./components/matrix.tsx";
import { Details } from "./components/details.tsx";
import { EventLog } from "./components/events.tsx";
import { Help } from "./components/help.tsx";
import { Footer, type Notice } from "./components/footer.tsx";
import { PlanDialog } from "./components/plan_dialog.tsx";
import { RolePicker } from "./components/role_picker.tsx";
import { DemoPanel } from "./components/demo_panel.tsx";
import { type DemoControls, type DemoSnapshot, isDemoKey } from "../src/demo/controls.ts";
import type { ControlResponse, RoleResult, SchaResult } from "../src/control/protocol.ts";
import type { PlannedRequest } from "./plan.ts";

/** Props of {@link App}. */
export interface AppProps {
  source: ClusterSource;
  title?: string;
  demo?: DemoControls;
  /** The console's clock, the one the source stamps answers with (default performance.now). */
  clock?: () => number;
  /** Wall clock, for the demo's times (default Date.now). */
  wallClock?: () => number;
  /** How often countdowns are redrawn, in ms (default 250; 0: only when something changes). */
  tickMs?: number;
}

type Mode = "main" | "details" | "help" | "pick" | "plan";

/** What an answer to a planned request says, in a few words, and whether it failed. */
function answerText(
  r: PlannedRequest,
  response: ControlResponse,
): { text: string; failed: boolean } {
  if (!response.ok) {
    // `refused`: understood and declined for now (a switchover target gone); else an error.
    const verb = response.error.code === "refused" ? "refused" : "failed";
    return { text: `${r.node} ${verb}: ${response.error.message}`, failed: true };
  }
  if (r.request.type === "scha") {
    const answer = response.result as SchaResult;
    return answer.code === 0
      ? { text: `${r.node}: ${answer.message}`, failed: false }
      : { text: `${r.node} refused (SCHA_ERR ${answer.code}): ${answer.message}`, failed: true };
  }
  const changed = (response.result as RoleResult).changed ?? [];
  return {
    text: changed.map((c) => `${r.node}: ${c.resource} ${c.from} → ${c.to}`).join(", "),
    failed: false,
  };
}

/** The terminal's size, following resizes. */
function useTerminalSize(): { columns: number; rows: number } {
  const { stdout } = useStdout();
  const read = () => ({ columns: stdout.columns || 80, rows: stdout.rows || 24 });
  const [size, setSize] = useState(read);
  useEffect(() => {
    const onResize = () => setSize(read());
    stdout.on("resize", onResize);
    return () => {
      stdout.off("resize", onResize);
    };
  }, [stdout]);
  return size;
}

const noDemo = {
  subscribe: () => () => {},
  snapshot: () => null,
};

/** The whole console. */
export function App(
  {
    source,
    title = "hastmon",
    demo,
    clock = () => performance.now(),
    wallClock = Date.now,
    tickMs = 250,
  }: AppProps,
) {
  const { exit } = useApp();
  const { isRawModeSupported } = useStdin();
  const { columns, rows } = useTerminalSize();
  // Stable subscribe functions: a new one each render would resubscribe each render.
  const subscribe = useCallback((fn: () => void) => source.subscribe(fn), [source]);
  const snapshot = useSyncExternalStore(subscribe, () => source.snapshot());
  const demoSource = demo ?? noDemo;
  const subscribeDemo = useCallback((fn: () => void) => demoSource.subscribe(fn), [demoSource]);
  const demoState: DemoSnapshot | null = useSyncExternalStore(
    subscribeDemo,
    () => demoSource.snapshot(),
  );
  // Countdowns move between answers: redraw every tick, from the clock alone.
  const [now, setNow] = useState(clock);
  useEffect(() => {
    if (tickMs <= 0) return;
    const t = setInterval(() => setNow(clock()), tickMs);
    return () => clearInterval(t);
  }, [tickMs]);
  useEffect(() => setNow(clock()), [snapshot]);
  const [mode, setMode] = useState<Mode>("main");
  const [selected, setSelected] = useState(0);
  const [plan, setPlan] = useState<Plan | null>(null);
  const [notice, setNotice] = useState<Notice | null>(null);

  const model = buildModel(snapshot, Math.max(now, ...snapshot.map((d) => d.receivedAt ?? 0)));
  const index = Math.min(selected, Math.max(0, model.resources.length - 1));
  const row = model.resources[index] ?? null;

  // A plan being sent: the screen stays live meanwhile (a giveover's answer comes once it is
  // done), and no other plan is started until it is answered.
  const [sending, setSending] = useState<string | null>(null);
  const send = async (p: Plan) => {
    setPlan(null);
    setMode("main");
    setSending(p.title);
    setNotice({ variant: "info", text: `sending: ${p.title}; waiting for the answer` });
    const results: string[] = [];
    let failed = false;
    for (const r of p.requests) {
      try {
        const answer = answerText(r, await source.send(r.daemon, r.request, r.timeoutMs));
        results.push(answer.text);
        failed ||= answer.failed;
      } catch (e) {
        failed = true;
        results.push(`${r.node}: ${(e as Error).message}`);
      }
    }
    setSending(null);
    setNotice({ variant: failed ? "error" : "success", text: `sent: ${results.join("; ")}` });
  };

  useInput((input, key) => {
    if (mode === "help") {
      if (key.escape || input === "?" || input === "q") setMode("main");
      return;
    }
    if (mode === "pick" || mode === "plan") {
      // The picker and the confirmation read their own keys; esc backs out of both.
      if (key.escape) {
        setPlan(null);
        setMode("main");
      }
      return;
    }
    setNotice(null);
    if (input === "q") exit();
    else if (key.upArrow || input === "k") setSelected(Math.max(0, index - 1));
    else if (key.downArrow || input === "j") {
      setSelected(Math.min(Math.max(0, model.resources.length - 1), index + 1));
    } else if (key.return) setMode(mode === "details" ? "main" : "details");
    else if (key.escape) setMode("main");
    else if (input === "?") setMode("help");
    else if ((input === "r" || input === "s" || input === "g") && sending !== null) {
      setNotice({ variant: "warning", text: `still waiting for the answer to: ${sending}` });
    } else if (input === "r") {
      if (row) setMode("pick");
      else setNotice({ variant: "warning", text: "no resource to change" });
    } else if (input === "s" || input === "g") {
      if (row) {
        setPlan((input === "s" ? switchoverPlan : giveoverPlan)(model, row.name));
        setMode("plan");
      } else {setNotice({
          variant: "warning",
          text: `no resource to ${input === "s" ? "switch over" : "give over"}`,
        });}
    } else if (demo && isDemoKey(input)) {
      // The demo's one resource: its primary as the console knows it now.
      demo.act(input, (row ?? model.resources[0])?.primary ?? null);
    }
  }, { isActive: isRawModeSupported });

  // Lines: header, body, demo panel, footer; the body shares what is left.
  const height = Math.max(6, rows - 1);
  const width = Math.max(20, columns);
  const demoHeight = demoState ? 3 : 0;
  const body = Math.max(3, height - 2 - demoHeight);
  const overlay = mode === "help" || mode === "pick" || mode === "plan";
  const matrixHeight = mode === "details"
    ? 0
    : Math.min(model.resources.length + 1, Math.max(2, Math.floor(body / 3)));
  const detailsHeight = mode === "details"
    ? body
    : Math.min(7, Math.max(1, Math.floor((body - matrixHeight) / 2)));
  const eventsHeight = Math.max(0, body - matrixHeight - detailsHeight);
  return (
    <Box flexDirection="column" width={width} height={height} overflow="hidden">
      <Header title={title} daemons={model.daemons} width={width} />
      {overlay
        ? (
          <Box height={body} flexDirection="column" overflow="hidden">
            {mode === "help" && <Help width={width} demo={!!demo} />}
            {mode === "pick" && row && (
              <RolePicker
                resource={row.name}
                choices={roleChoices(model, row.name)}
                width={width}
                onPick={(c) => {
                  setPlan(roleChangePlan(model, row.name, c.node, c.to));
                  setMode("plan");
                }}
              />
            )}
            {mode === "plan" && plan && (
              <PlanDialog
                plan={plan}
                width={width}
                onConfirm={() => send(plan)}
                onCancel={() => {
                  setPlan(null);
                  setMode("main");
                  setNotice({ variant: "info", text: "cancelled: nothing was sent" });
                }}
              />
            )}
          </Box>
        )
        : (
          <Box height={body} flexDirection="column" overflow="hidden">
            {matrixHeight > 0 && (
              <Matrix model={model} selected={index} width={width} height={matrixHeight} />
            )}
            <Details row={row} width={width} height={detailsHeight} full={mode === "details"} />
            {eventsHeight > 0 && (
              <EventLog events={model.events} width={width} height={eventsHeight} />
            )}
          </Box>
        )}
      {demoState && (
        <DemoPanel demo={demoState} events={model.events} width={width} wallNow={wallClock()} />
      )}
      <Footer notice={notice} sending={sending} demo={!!demo} />
    </Box>
  );
}
