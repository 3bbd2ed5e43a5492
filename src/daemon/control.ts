/**
 * The daemon's answers to the control socket (src/control/server.ts): status
 * views from the runtime, role commands into it, and the event stream.
 */
import type {
  ControlHandler,
  DaemonEvent,
  RoleResult,
  SchaResult,
  StatusResult,
} from "../control/protocol.ts";
import { ControlRefusal } from "../control/protocol.ts";
import { switchoverPlan } from "../core/machine.ts";
import { parseOptag, SCHA_ERR, UNSUPPORTED_OPTAGS } from "../core/scha.ts";
import { MEMBER_STATUSES, type MemberStatusValue, type NodeId, type Role } from "../core/types.ts";
import type { NodeRuntime } from "../runtime/node.ts";
import type { EventLog } from "./events.ts";
import type { Logger } from "./log.ts";
import { VERSION } from "../version.ts";

/** What the control handler reads and drives. */
export interface ControlDeps {
  node: NodeId;
  runtime: NodeRuntime;
  events: EventLog;
  logger: Logger;
  startedAt: number;
}

/** The daemon's {@link ControlHandler}. */
export class DaemonControl implements ControlHandler {
  constructor(private readonly d: ControlDeps) {}

  /** `ctl status`: every (or the named) resource's status view, as of now. */
  status(names?: string[]): { result: StatusResult; unknown: string[] } {
    const { picked, unknown } = this.#pick(names && names.length > 0 ? names : "all");
    const now = performance.now();
    return {
      result: {
        node: this.d.node,
        version: VERSION,
        pid: Deno.pid,
        uptimeMs: now - this.d.startedAt,
        load: this.d.runtime.load(),
        log: this.d.logger.loss,
        resources: picked.map((name) => this.d.runtime.status(name)!),
      },
      unknown,
    };
  }

  /**
   * `ctl role`: a role command to each named resource. `secondary` on a
   * primary is a switchover to `to` (or the best connected secondary); a
   * named target that cannot take it is refused before anything changes.
   */
  role(
    role: Role,
    names: string[] | "all",
    force: boolean,
    to?: string,
  ): { result: RoleResult; unknown: string[] } {
    const { picked, unknown } = this.#pick(names);
    if (to !== undefined) {
      if (role !== "secondary") throw new ControlRefusal("--to goes with role secondary only");
      for (const name of picked) {
        const plan = switchoverPlan(this.d.runtime.machine(name)!, to);
        if (plan.blocked) throw new ControlRefusal(`${name}: cannot hand over: ${plan.blocked}`);
      }
    }
    const changed: RoleResult["changed"] = [];
    for (const name of picked) {
      const from = this.d.runtime.machine(name)!.role;
      changed.push({ resource: name, from, to: role });
      if (force) this.d.logger.warning(`forced to ${role} by the operator`, name);
      this.d.runtime.command(name, { role, force, ...(to !== undefined ? { to } : {}) });
    }
    return { result: { changed }, unknown };
  }

  /**
   * scha_control: the optag as typed (case-insensitive), for group `group`.
   * What the machine refuses comes back as its SCHA_ERR number, not thrown.
   */
  scha(group: string, optag: string, member?: string, to?: string): Promise<SchaResult> {
    const tag = parseOptag(optag);
    if (tag === null) {
      const known = (UNSUPPORTED_OPTAGS as readonly string[]).includes(optag.toUpperCase());
      return Promise.resolve({
        code: SCHA_ERR.TAG,
        message: known
          ? `optag ${optag.toUpperCase()} has no meaning in hastmon's model (see docs/SCHA.md)`
          : `unknown optag ${JSON.stringify(optag)}`,
      });
    }
    return new Promise((resolve) => {
      const request = { optag: tag, member: member ?? null, ...(to !== undefined ? { to } : {}) };
      if (!this.d.runtime.request(group, request, resolve)) resolve(this.#noGroup(group));
    });
  }

  /** scha_resource_setstatus: OK, DEGRADED, FAULTED, UNKNOWN or OFFLINE (any case). */
  setStatus(group: string, member: string, status: string, message: string): Promise<SchaResult> {
    const value = status.toUpperCase() as MemberStatusValue;
    if (!MEMBER_STATUSES.includes(value)) {
      return Promise.resolve({
        code: SCHA_ERR.RSTATUS,
        message: `status must be one of ${MEMBER_STATUSES.join(", ")}, not ${
          JSON.stringify(status)
        }`,
      });
    }
    return new Promise((resolve) => {
      if (!this.d.runtime.setStatus(group, member, value, message, resolve)) {
        resolve(this.#noGroup(group));
      }
    });
  }

  #noGroup(group: string): SchaResult {
    return { code: SCHA_ERR.RG, message: `no resource group ${group} on ${this.d.node}` };
  }

  recentEvents(limit?: number): DaemonEvent[] {
    return this.d.events.recent(limit);
  }

  subscribe(fn: (e: DaemonEvent) => void): () => void {
    return this.d.events.subscribe(fn);
  }

  #pick(names: string[] | "all"): { picked: string[]; unknown: string[] } {
    const all = this.d.runtime.names();
    if (names === "all" || (names.length === 1 && names[0] === "all")) {
      return { picked: all, unknown: [] };
    }
    // Each name once: a 1 MiB request names one resource 100,000 times, and answering each
    // held the event loop for seconds (the lease ran out, the service moved).
    const known = new Set(all);
    const wanted = [...new Set(names)];
    return {
      picked: wanted.filter((n) => known.has(n)),
      unknown: wanted.filter((n) => !known.has(n)),
    };
  }
}
