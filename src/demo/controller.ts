/**
 * The demo as its console drives it ({@link DemoControls}): starts the demo
 * cluster, watches who serves the page (a fetch every 250 ms: that watches
 * the service, not the daemons), and turns the fault keys into real faults.
 * Nothing here throws at the console: a fault that fails says why.
 */
import { DEMO_NODES, DemoCluster } from "./cluster.ts";
import type { DemoControls, DemoKey, DemoSnapshot } from "./controls.ts";
import { fetchPage } from "./service.ts";

/** Options of {@link DemoController}. */
export interface DemoControllerOptions {
  /** How often the page is fetched (default 250 ms). */
  pollMs?: number;
  /** Wall clock (default Date.now). */
  wallClock?: () => number;
}

/** The demo: its cluster, its state, its fault keys. */
export class DemoController implements DemoControls {
  readonly cluster: DemoCluster;
  #state: DemoSnapshot;
  #listeners = new Set<() => void>();
  #pollMs: number;
  #now: () => number;
  #closed = false;
  #watching: Promise<void> | null = null;
  #wake: (() => void) | null = null;
  #pending = new Set<Promise<void>>();

  private constructor(cluster: DemoCluster, opts: DemoControllerOptions) {
    this.cluster = cluster;
    this.#pollMs = opts.pollMs ?? 250;
    this.#now = opts.wallClock ?? Date.now;
    this.#state = {
      phase: "starting",
      error: null,
      dir: cluster.dir,
      url: cluster.url,
      page: null,
      pageSince: this.#now(),
      lastFault: null,
      boundMs: null,
      killed: [],
      frozen: [],
      cuts: [],
      notice: null,
    };
  }

  /** Write the demo's directory, configuration and hook script; {@link start} runs it. */
  static async create(opts: DemoControllerOptions = {}): Promise<DemoController> {
    return new DemoController(await DemoCluster.create(), opts);
  }

  /** The control sockets of the three daemons. */
  controlPaths(): string[] {
    return DEMO_NODES.map((n) => this.cluster.controlPath(n.name));
  }

  /** Start the daemons and the page watcher; a failure shows as phase "failed". */
  async start(): Promise<void> {
    this.#watching ??= this.#watch();
    try {
      const bound = await this.cluster.takeoverBoundMs();
      this.#set({ boundMs: bound });
      await this.cluster.start();
      this.#set({ phase: "running" });
    } catch (e) {
      if (!this.#closed) this.#set({ phase: "failed", error: (e as Error).message });
    }
  }

  subscribe(fn: () => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  snapshot(): DemoSnapshot {
    return this.#state;
  }

  act(key: DemoKey, primary: string | null): void {
    if (this.#state.phase !== "running") {
      this.#set({ notice: "the demo is not running" });
      return;
    }
    const task = this.#act(key, primary).catch((e) =>
      this.#set({ notice: `failed: ${(e as Error).message}` })
    );
    this.#pending.add(task);
    task.finally(() => this.#pending.delete(task));
  }

  /** Stop the watcher, wait for faults in progress, and tear the cluster down. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#wake?.();
    await this.#watching;
    await Promise.all([...this.#pending]);
    await this.cluster.close();
  }

  async #act(key: DemoKey, primary: string | null): Promise<void> {
    const s = this.#state;
    const target = primary ?? s.page?.node ?? null;
    const usable = (what: string): string | null => {
      if (target === null) {
        this.#set({ notice: `no primary to ${what} right now` });
        return null;
      }
      if (s.killed.includes(target)) {
        this.#set({ notice: `${target} is killed already (6 brings it back)` });
        return null;
      }
      return target;
    };
    switch (key) {
      case "1": {
        const node = usable("kill");
        if (!node) return;
        this.#fault("killed", node, {
          killed: [...s.killed, node],
          frozen: without(s.frozen, node),
        });
        this.#set({ notice: `kill -9 of ${node}: daemon, guard and service` });
        await this.cluster.killNode(node);
        return;
      }
      case "2": {
        if (s.frozen.length > 0) {
          for (const n of s.frozen) this.cluster.thaw(n);
          this.#set({ frozen: [], notice: `SIGCONT: ${s.frozen.join(", ")} thawed` });
          return;
        }
        const node = usable("freeze");
        if (!node) return;
        this.cluster.freeze(node);
        this.#fault("froze", node, { frozen: [node] });
        this.#set({ notice: `SIGSTOP: ${node}'s daemon frozen (its guard runs on); 2 thaws it` });
        return;
      }
      case "3": {
        this.cluster.cut("nodeA", "nodeB");
        this.#set({ cuts: union(s.cuts, ["nodeA–nodeB"]), notice: "link nodeA–nodeB cut" });
        return;
      }
      case "4": {
        const node = usable("isolate");
        if (!node) return;
        const others = DEMO_NODES.map((n) => n.name).filter((n) => n !== node);
        for (const o of others) this.cluster.cut(node, o);
        this.#fault("isolated", node, {
          cuts: union(s.cuts, others.map((o) => pair(node, o))),
        });
        this.#set({ notice: `${node} cut from ${others.join(" and ")}` });
        return;
      }
      case "5": {
        this.cluster.heal();
        this.#set({ cuts: [], notice: "every link healed" });
        return;
      }
      case "6": {
        if (s.killed.length === 0) {
          this.#set({ notice: "no node is killed" });
          return;
        }
        this.#set({ notice: `starting ${s.killed.join(", ")} again` });
        for (const n of s.killed) {
          await this.cluster.startNode(n);
          this.#set({ killed: without(this.#state.killed, n) });
        }
        this.#set({ notice: `${s.killed.join(", ")} back` });
        return;
      }
    }
  }

  #fault(what: string, node: string, change: Partial<DemoSnapshot>) {
    this.#set({
      ...change,
      lastFault: { what, node, at: this.#now(), servedAgainAt: null, servedBy: null },
    });
  }

  async #watch(): Promise<void> {
    while (!this.#closed) {
      const page = await fetchPage(this.cluster.url, Math.min(200, this.#pollMs));
      if (this.#closed) return;
      const was = this.#state.page;
      if (page?.node !== was?.node || page?.epoch !== was?.epoch) {
        const now = this.#now();
        const f = this.#state.lastFault;
        const served = f && f.servedAgainAt === null && page && page.node !== f.node
          ? { lastFault: { ...f, servedAgainAt: now, servedBy: page.node } }
          : {};
        this.#set({ page, pageSince: now, ...served });
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, this.#pollMs);
        function done() {
          clearTimeout(t);
          resolve();
        }
        this.#wake = done;
      });
      this.#wake = null;
    }
  }

  #set(change: Partial<DemoSnapshot>) {
    this.#state = { ...this.#state, ...change };
    for (const fn of this.#listeners) fn();
  }
}

function without(list: string[], item: string): string[] {
  return list.filter((x) => x !== item);
}

function union(a: string[], b: string[]): string[] {
  return [...new Set([...a, ...b])];
}

function pair(a: string, b: string): string {
  return [a, b].sort().join("–");
}
