/**
 * Address syntax of the configuration: peer addresses (`tcp://host:port`,
 * `tcp4://host:port`, bare `host[:port]`, default port 8458, IPv6 in brackets)
 * and the control socket (`uds://PATH`, `unix://PATH` or a plain path).
 * Names are not resolved here: that happens when the address is used.
 */

/** The port hastmon listens on when an address names none. */
export const DEFAULT_PORT = 8458;

/** A TCP endpoint as configured. `text` is what the file says. */
export interface PeerAddress {
  host: string;
  port: number;
  text: string;
}

/** A Unix-domain control socket. */
export interface ControlAddress {
  path: string;
  text: string;
}

/** Either a value or the reason there is none. */
export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

const LABEL = "[A-Za-z0-9](?:[A-Za-z0-9_-]*[A-Za-z0-9])?";
const HOSTNAME = new RegExp(`^${LABEL}(?:\\.${LABEL})*\\.?$`);

/**
 * Parse a peer address. `allowPortZero` is for listeners, where port 0 asks the
 * system for a free port (tests and the demo use it).
 */
export function parsePeerAddress(
  text: string,
  opts: { allowPortZero?: boolean } = {},
): Parsed<PeerAddress> {
  const fail = (why: string): Parsed<PeerAddress> => ({
    ok: false,
    error: `bad address "${text}": ${why}`,
  });
  let rest = text;
  let ipv4Only = false;
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(text);
  if (scheme) {
    const name = scheme[1].toLowerCase();
    if (name !== "tcp" && name !== "tcp4") {
      return fail(`unsupported scheme ${scheme[1]}:// (use tcp://, tcp4:// or host:port)`);
    }
    ipv4Only = name === "tcp4";
    rest = text.slice(scheme[0].length);
  }
  if (rest === "") return fail("no host");
  let host: string;
  let portText: string | null = null;
  if (rest.startsWith("[")) {
    const end = rest.indexOf("]");
    if (end < 0) return fail("missing ] after an IPv6 address");
    host = rest.slice(1, end);
    if (ipv4Only) return fail("tcp4:// cannot take an IPv6 address");
    if (!/^[0-9A-Fa-f:.]+$/.test(host) || !host.includes(":")) return fail("bad IPv6 address");
    const after = rest.slice(end + 1);
    if (after !== "") {
      if (!after.startsWith(":")) return fail("expected :PORT after ]");
      portText = after.slice(1);
    }
  } else {
    const colons = rest.split(":").length - 1;
    if (colons > 1) return fail("an IPv6 address must be written in brackets, e.g. [::1]:8458");
    [host, portText = null] = colons === 1 ? rest.split(":") : [rest];
    if (host === "") return fail("no host");
    if (/^[0-9.]+$/.test(host)) {
      const parts = host.split(".");
      if (parts.length !== 4 || parts.some((p) => p === "" || Number(p) > 255)) {
        return fail("bad IPv4 address");
      }
    } else if (!HOSTNAME.test(host)) {
      return fail("bad host name");
    }
  }
  let port = DEFAULT_PORT;
  if (portText !== null) {
    if (!/^[0-9]+$/.test(portText)) return fail("the port must be a number");
    port = Number(portText);
    const min = opts.allowPortZero ? 0 : 1;
    if (port < min || port > 65535) return fail(`the port must be in ${min}..65535`);
  }
  return { ok: true, value: { host, port, text } };
}

/** Parse a control socket address: `uds://PATH`, `unix://PATH` or a plain path. */
export function parseControlAddress(text: string): Parsed<ControlAddress> {
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(text);
  let path = text;
  if (scheme) {
    const name = scheme[1].toLowerCase();
    if (name !== "uds" && name !== "unix") {
      return {
        ok: false,
        error: `bad control address "${text}": the control socket is a Unix socket ` +
          `(uds://PATH, unix://PATH or a path), not ${scheme[1]}://`,
      };
    }
    path = text.slice(scheme[0].length);
  }
  if (path === "") return { ok: false, error: `bad control address "${text}": no path` };
  return { ok: true, value: { path, text } };
}

/** `host:port` with IPv6 hosts in brackets, for messages and `config show`. */
export function formatPeerAddress(a: Pick<PeerAddress, "host" | "port">): string {
  return a.host.includes(":") ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}
