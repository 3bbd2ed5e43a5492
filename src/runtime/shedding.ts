/**
 * What a node gives up first when it cannot keep up (PRODUCT.md §8, issue 12):
 * optional work, never its heartbeats and lease renewals.
 *
 * - **Notification hooks** (role, connect, disconnect, complain) have a
 *   node-wide budget, a token bucket of `notifyPerSecond` (burst the same);
 *   while the node is overloaded they are all dropped. Every drop is counted.
 * - **Routine probes** (a primary's online member, a standby's stopped copy:
 *   the core marks them with `deferrableMs`, one probe interval) are held back
 *   while the node is overloaded, each at most that long, so that probing
 *   slows (a primary's to half its rate at worst, a standby's, every six
 *   intervals, to one in seven) and never stops. Probes that a start, a stop
 *   or a takeover waits on are never held.
 *
 * Overloaded means: the node's timer fired more than `lagLimitMs` late (its
 * event loop was busy or starved), or a hook waited that long to be started
 * (the daemon's spawn queue could not keep up), at least
 * {@link LATE_TO_SHED} times within {@link SHED_WINDOW_MS}. One late wake-up is
 * a freeze (SIGSTOP, a suspended VM), which the core handles on its own; a
 * node that keeps running late is starved. Shedding ends once
 * {@link SHED_WINDOW_MS} pass without a late wake-up.
 *
 * Pure bookkeeping on the times the runtime passes in: the simulator drives
 * it on its virtual clock like the daemon on the real one.
 */
import type { HookMethod, Time } from "../core/types.ts";
import type { LoadStatus } from "../core/status.ts";

export type { LoadStatus };

/** Notification hooks a node runs per second at most. */
export const DEFAULT_NOTIFY_PER_SECOND = 20;

/** Lateness of the node's clock (or of a hook's start) that counts as a sign of overload. */
export const DEFAULT_LAG_LIMIT_MS = 500;

/** How long the signs of overload are remembered; shedding ends after this long without any. */
export const SHED_WINDOW_MS = 10_000;

/** Late wake-ups within the window that make the node shed load. */
export const LATE_TO_SHED = 3;

/** How often, at most, dropped notifications are reported in the log. */
export const SHED_REPORT_MS = 10_000;

/** A line for the log, from {@link Shedder}'s bookkeeping. */
export interface ShedNote {
  level: "warning" | "info";
  message: string;
}

/** The load bookkeeping of one node. */
export class Shedder {
  readonly notifyPerSecond: number;
  readonly lagLimitMs: number;
  #tokens: number;
  #tokensAt: Time;
  /** When the most recent late wake-ups were, newest last ({@link LATE_TO_SHED} kept). */
  #lateAt: Time[] = [];
  #worstLag: { ms: number; at: Time } = { ms: 0, at: -Infinity };
  #worstWait: { ms: number; at: Time } = { ms: 0, at: -Infinity };
  #since: Time | null = null;
  #dropped = { total: 0, recent: 0, saidAt: -Infinity, atStart: 0 };
  #deferred = { total: 0, atStart: 0 };

  constructor(
    now: Time,
    notifyPerSecond = DEFAULT_NOTIFY_PER_SECOND,
    lagLimitMs = DEFAULT_LAG_LIMIT_MS,
  ) {
    this.notifyPerSecond = notifyPerSecond;
    this.lagLimitMs = lagLimitMs;
    this.#tokens = notifyPerSecond;
    this.#tokensAt = now;
  }

  /**
   * How late the node's timer fired, and how long the hook that has waited
   * longest to be started has waited; returns what to log when shedding begins.
   */
  observe(now: Time, lateMs: number, waitMs = 0): ShedNote | null {
    const worse = (w: { ms: number; at: Time }, ms: number) =>
      ms > w.ms || now - w.at > SHED_WINDOW_MS ? { ms: Math.max(0, ms), at: now } : w;
    this.#worstLag = worse(this.#worstLag, lateMs);
    this.#worstWait = worse(this.#worstWait, waitMs);
    if (Math.max(lateMs, waitMs) > this.lagLimitMs) {
      this.#lateAt.push(now);
      if (this.#lateAt.length > LATE_TO_SHED) this.#lateAt.shift();
    }
    const starved = this.#lateAt.length >= LATE_TO_SHED &&
      now - this.#lateAt[0] <= SHED_WINDOW_MS;
    if (starved && this.#since === null) {
      this.#since = now;
      this.#dropped.atStart = this.#dropped.total;
      this.#deferred.atStart = this.#deferred.total;
      return {
        level: "warning",
        message: `shedding load: this node ran up to ${Math.round(this.#worstLag.ms)} ms late, ` +
          `hooks waited up to ${Math.round(this.#worstWait.ms)} ms to start ` +
          `(over ${this.lagLimitMs} ms ${LATE_TO_SHED} times within ${SHED_WINDOW_MS / 1000} s): ` +
          `notification hooks are dropped and routine probes may come up to one interval late; ` +
          `heartbeats and leases are not affected`,
      };
    }
    return null;
  }

  /** Shedding ends once the window passes without a late wake-up; returns what to log then. */
  settle(now: Time): ShedNote | null {
    if (this.#since === null) return null;
    const last = this.#lateAt.at(-1) ?? -Infinity;
    if (now - last <= SHED_WINDOW_MS) return null;
    const took = now - this.#since;
    this.#since = null;
    this.#lateAt = [];
    return {
      level: "info",
      message: `load shedding over after ${Math.round(took / 1000)} s: ` +
        `${this.#dropped.total - this.#dropped.atStart} notification hook(s) dropped, ` +
        `${this.#deferred.total - this.#deferred.atStart} probe(s) postponed meanwhile`,
    };
  }

  /** Is the node shedding optional work at `now`? */
  shedding(now: Time): boolean {
    if (this.#since === null) return false;
    return now - (this.#lateAt.at(-1) ?? -Infinity) <= SHED_WINDOW_MS;
  }

  /** May a notification hook run now? Takes a token of the budget when it may. */
  takeNotification(now: Time): boolean {
    const rate = this.notifyPerSecond;
    this.#tokens = Math.min(rate, this.#tokens + (now - this.#tokensAt) * rate / 1000);
    this.#tokensAt = now;
    if (this.shedding(now) || this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  /**
   * Count a dropped notification; returns a line for the log at most every
   * {@link SHED_REPORT_MS} (while shedding, the begin and end lines say it).
   */
  dropped(now: Time, method: HookMethod): ShedNote | null {
    this.#dropped.total++;
    this.#dropped.recent++;
    if (this.shedding(now) || now - this.#dropped.saidAt < SHED_REPORT_MS) return null;
    const note: ShedNote = {
      level: "warning",
      message: `shedding load: ${this.#dropped.recent} notification hook(s) dropped since the ` +
        `last report (at most ${this.notifyPerSecond} a second on this node), the last a ${method}`,
    };
    this.#dropped.recent = 0;
    this.#dropped.saidAt = now;
    return note;
  }

  /** Count a routine probe held back. */
  deferred(): void {
    this.#deferred.total++;
  }

  /** The status view's part (`probesHeld` is the runtime's to fill in). */
  status(now: Time, probesHeld: number): LoadStatus {
    const shedding = this.shedding(now);
    return {
      shedding,
      sheddingForMs: shedding ? now - this.#since! : null,
      lagMs: now - this.#worstLag.at > SHED_WINDOW_MS ? 0 : Math.round(this.#worstLag.ms),
      hookWaitMs: now - this.#worstWait.at > SHED_WINDOW_MS ? 0 : Math.round(this.#worstWait.ms),
      lagLimitMs: this.lagLimitMs,
      notificationsDropped: this.#dropped.total,
      probesDeferred: this.#deferred.total,
      probesHeld,
      notifyPerSecond: this.notifyPerSecond,
    };
  }
}
