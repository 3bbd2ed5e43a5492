/**
 * A controllable TCP relay between the nodes of a cluster on one machine (the
 * demo's, and the end-to-end tests'), to partition them symmetrically or in
 * one direction only.
 *
 * For every ordered pair (X, Y) the relay listens on a port of its own that
 * X's configuration lists as Y's address; each connection accepted there is
 * forwarded to Y's real listener. X is the client of such a connection and Y
 * the server, but bytes flow both ways on it, and both X and Y dial each
 * other, so "X → Y" traffic crosses both the (X, Y) and the (Y, X) routes.
 *
 * `block(X, Y)` drops every byte travelling from X to Y, on every route, as a
 * lost link would: nothing is closed, end-of-stream from X is not passed on
 * either (a FIN is a packet too), and new connections are still accepted but
 * then carry nothing from X. The daemons notice through their own timeouts.
 * `heal()` lets bytes through again and closes every connection that lost
 * data or an end-of-stream, since its byte stream can no longer be trusted;
 * the daemons dial again.
 */
import net from "node:net";

/** The byte stream interface the pumps need (a Deno.Conn, or a node:net socket adapted). */
interface Stream {
  read(buf: Uint8Array): Promise<number | null>;
  write(buf: Uint8Array): Promise<number>;
  close(): void;
}

/** One forwarded connection. */
interface Link {
  client: Deno.Conn;
  server: Stream | null;
  /** Lost bytes or an end-of-stream while blocked: its stream is broken. */
  broken: boolean;
  closed: boolean;
}

/** A route: connections to `port` come from `from` and go to `to`'s real listener. */
interface Route {
  from: string;
  to: string;
  port: number;
  listener: Deno.TcpListener;
  /** The target's listen host (default 127.0.0.1). */
  targetHost: string;
  /** Forward from this local address, so the target sees `from`'s own host (default: any). */
  sourceHost: string | null;
}

/**
 * Counts the frames in one direction of a byte stream (8-byte header: magic,
 * version, body length big-endian), for the benchmarks: how many frames the
 * daemons really exchange, seen from outside them.
 */
class FrameCounter {
  frames = 0;
  bytes = 0;
  #header = new Uint8Array(8);
  #have = 0;
  #body = 0;

  feed(chunk: Uint8Array): void {
    this.bytes += chunk.length;
    let i = 0;
    while (i < chunk.length) {
      if (this.#body > 0) {
        const take = Math.min(this.#body, chunk.length - i);
        this.#body -= take;
        i += take;
        continue;
      }
      this.#header[this.#have++] = chunk[i++];
      if (this.#have === 8) {
        this.#have = 0;
        this.#body = new DataView(this.#header.buffer).getUint32(4, false);
        this.frames++;
      }
    }
  }
}

/** The relay of one cluster. */
export class Relay {
  #routes: Route[] = [];
  /** Frames and bytes forwarded per direction, `from>to`. */
  #counts = new Map<string, { frames: number; bytes: number }>();
  #links = new Set<Link>();
  #blocked = new Set<string>();
  #tasks = new Set<Promise<void>>();
  #closed = false;

  /**
   * Listen on a fresh loopback port for traffic from `from` to `to`, whose
   * real listener is on `targetPort()` (null while `to` is down: connections
   * are then closed, as a refused connect would be). Returns the relay port.
   */
  route(
    from: string,
    to: string,
    targetPort: () => number | null,
    hosts: { target?: string; source?: string } = {},
  ): number {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const route = {
      from,
      to,
      port: listener.addr.port,
      listener,
      targetHost: hosts.target ?? "127.0.0.1",
      sourceHost: hosts.source ?? null,
    };
    this.#routes.push(route);
    this.#track(this.#accept(route, targetPort));
    return route.port;
  }

  /** Drop bytes travelling from `from` to `to` (one direction). */
  block(from: string, to: string): void {
    this.#blocked.add(`${from}>${to}`);
  }

  /** Drop bytes both ways between `a` and `b`. */
  blockBoth(a: string, b: string): void {
    this.block(a, b);
    this.block(b, a);
  }

  /** Whether bytes from `from` to `to` are dropped. */
  isBlocked(from: string, to: string): boolean {
    return this.#blocked.has(`${from}>${to}`);
  }

  /** Let everything through again; connections that lost data are closed. */
  heal(): void {
    this.#blocked.clear();
    for (const link of this.#links) if (link.broken) this.#closeLink(link);
  }

  /** Stop listening, close every connection, and wait for every task to end. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const r of this.#routes) {
      try {
        r.listener.close();
      } catch { /* already closed */ }
    }
    for (const link of this.#links) this.#closeLink(link);
    while (this.#tasks.size > 0) await Promise.all([...this.#tasks]);
  }

  #track(p: Promise<void>): void {
    const task = p.catch(() => {}).finally(() => this.#tasks.delete(task));
    this.#tasks.add(task);
  }

  async #accept(route: Route, targetPort: () => number | null): Promise<void> {
    for (;;) {
      let client: Deno.Conn;
      try {
        client = await route.listener.accept();
      } catch {
        return; // listener closed
      }
      if (this.#closed) {
        client.close();
        return;
      }
      const link: Link = { client, server: null, broken: false, closed: false };
      this.#links.add(link);
      this.#track(this.#connect(route, targetPort, link));
    }
  }

  async #connect(route: Route, targetPort: () => number | null, link: Link): Promise<void> {
    try {
      const port = targetPort();
      if (port === null) throw new Error(`${route.to} is down`);
      link.server = route.sourceHost === null
        ? await Deno.connect({ hostname: route.targetHost, port })
        : await connectFrom(route.sourceHost, route.targetHost, port);
    } catch {
      // The node is down: the dialler sees its connection closed, as with a refused connect.
      this.#closeLink(link);
      return;
    }
    if (link.closed) {
      link.server.close();
      return;
    }
    await Promise.all([
      this.#pump(link, link.client, link.server, route.from, route.to),
      this.#pump(link, link.server, link.client, route.to, route.from),
    ]);
  }

  /** Frames and bytes forwarded from `from` to `to` so far, on every connection. */
  traffic(from: string, to: string): { frames: number; bytes: number } {
    return { ...(this.#counts.get(`${from}>${to}`) ?? { frames: 0, bytes: 0 }) };
  }

  /** Copy bytes from `src` (node `from`) to `dst` (node `to`) until either end closes. */
  async #pump(link: Link, src: Stream, dst: Stream, from: string, to: string) {
    const buf = new Uint8Array(64 * 1024);
    const counter = new FrameCounter();
    const key = `${from}>${to}`;
    for (;;) {
      let n: number | null;
      try {
        n = await src.read(buf);
      } catch {
        n = null;
      }
      if (link.closed) return;
      if (n === null) {
        // An end-of-stream is lost like any packet while the link is cut.
        if (this.isBlocked(from, to)) link.broken = true;
        else this.#closeLink(link);
        return;
      }
      if (this.isBlocked(from, to)) {
        link.broken = true;
        continue;
      }
      const before = { frames: counter.frames, bytes: counter.bytes };
      counter.feed(buf.subarray(0, n));
      const total = this.#counts.get(key) ?? { frames: 0, bytes: 0 };
      total.frames += counter.frames - before.frames;
      total.bytes += counter.bytes - before.bytes;
      this.#counts.set(key, total);
      try {
        let off = 0;
        while (off < n) off += await dst.write(buf.subarray(off, n));
      } catch {
        this.#closeLink(link);
        return;
      }
    }
  }

  #closeLink(link: Link): void {
    if (link.closed) return;
    link.closed = true;
    this.#links.delete(link);
    for (const c of [link.client, link.server]) {
      try {
        c?.close();
      } catch { /* already closed */ }
    }
  }
}

/**
 * Connect from a chosen local address (Deno.connect cannot bind one; node:net
 * can), adapted to the read/write/close the pumps use.
 */
export async function connectFrom(source: string, host: string, port: number): Promise<Stream> {
  const socket = net.connect({ host, port, localAddress: source });
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  const chunks: Uint8Array[] = [];
  let ended = false;
  let wake: (() => void) | null = null;
  const notify = () => {
    wake?.();
    wake = null;
  };
  socket.on("data", (d: Uint8Array) => {
    chunks.push(new Uint8Array(d));
    socket.pause();
    notify();
  });
  socket.on("end", () => {
    ended = true;
    notify();
  });
  socket.on("close", () => {
    ended = true;
    notify();
  });
  socket.on("error", () => {
    ended = true;
    notify();
  });
  return {
    async read(buf: Uint8Array): Promise<number | null> {
      while (chunks.length === 0) {
        if (ended) return null;
        socket.resume();
        await new Promise<void>((resolve) => wake = resolve);
      }
      const head = chunks[0];
      const n = Math.min(buf.length, head.length);
      buf.set(head.subarray(0, n));
      if (n === head.length) chunks.shift();
      else chunks[0] = head.subarray(n);
      return n;
    },
    write(buf: Uint8Array): Promise<number> {
      return new Promise((resolve, reject) => {
        if (ended || socket.destroyed) return reject(new Error("closed"));
        socket.write(buf.slice(), (err) => err ? reject(err) : resolve(buf.length));
      });
    },
    close(): void {
      socket.destroy();
      ended = true;
      notify();
    },
  };
}
