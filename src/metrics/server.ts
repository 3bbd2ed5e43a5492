/**
 * The `metrics_listen` endpoint: Prometheus scrapes `GET /metrics` over
 * plain HTTP. Each scrape renders the daemon's status view afresh.
 */
import { METRICS_CONTENT_TYPE } from "./render.ts";

/** A running metrics endpoint. */
export interface MetricsServer {
  /** The bound port (useful with port 0). */
  readonly port: number;
  /** Stop listening; scrapes in flight finish first. */
  close(): Promise<void>;
}

/** What {@link serveMetrics} needs. */
export interface MetricsServerOptions {
  host: string;
  port: number;
  /** The exposition text of this moment. */
  render: () => string;
  /** A scrape that failed inside (a bug), for the log. */
  onError?: (e: unknown) => void;
}

/** Listen on host:port; throws (e.g. AddrInUse) when the address cannot be bound. */
export function serveMetrics(opts: MetricsServerOptions): MetricsServer {
  const server = Deno.serve({
    hostname: opts.host,
    port: opts.port,
    onListen: () => {},
    onError: (e) => {
      opts.onError?.(e);
      return new Response("internal error\n", { status: 500 });
    },
  }, (req) => {
    const path = new URL(req.url).pathname;
    if (req.method !== "GET" && req.method !== "HEAD") {
      return new Response("only GET\n", { status: 405, headers: { allow: "GET, HEAD" } });
    }
    if (path === "/metrics") {
      return new Response(req.method === "HEAD" ? null : opts.render(), {
        headers: { "content-type": METRICS_CONTENT_TYPE },
      });
    }
    if (path === "/") {
      return new Response("hastmon: metrics at /metrics\n", {
        headers: { "content-type": "text/plain; charset=utf-8" },
      });
    }
    return new Response("not found: metrics are at /metrics\n", { status: 404 });
  });
  return {
    port: server.addr.port,
    close: () => server.shutdown(),
  };
}
