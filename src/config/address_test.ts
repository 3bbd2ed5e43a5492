import { assertEquals } from "../../tests/assert.ts";
import { formatPeerAddress, parseControlAddress, parsePeerAddress } from "./address.ts";

function peer(text: string, allowPortZero = false) {
  const r = parsePeerAddress(text, { allowPortZero });
  return r.ok ? [r.value.host, r.value.port] : r.error;
}

Deno.test("peer addresses: schemes, bare forms and the default port", () => {
  assertEquals(peer("tcp://10.0.0.1:9000"), ["10.0.0.1", 9000]);
  assertEquals(peer("tcp4://10.0.0.1"), ["10.0.0.1", 8458]);
  assertEquals(peer("TCP4://node-b.example.com:1"), ["node-b.example.com", 1]);
  assertEquals(peer("nodeb"), ["nodeb", 8458]);
  assertEquals(peer("nodeb:8459"), ["nodeb", 8459]);
  assertEquals(peer("[::1]:8458"), ["::1", 8458]);
  assertEquals(peer("tcp://[fe80::1]"), ["fe80::1", 8458]);
  assertEquals(peer("0.0.0.0:0", true), ["0.0.0.0", 0]);
});

Deno.test("peer addresses: every malformed form has a reason", () => {
  assertEquals(peer(""), 'bad address "": no host');
  assertEquals(peer("tcp://"), 'bad address "tcp://": no host');
  assertEquals(
    peer("udp://x:1"),
    'bad address "udp://x:1": unsupported scheme udp:// (use tcp://, tcp4:// or host:port)',
  );
  assertEquals(peer("10.0.0.256"), 'bad address "10.0.0.256": bad IPv4 address');
  assertEquals(peer("10.0.0"), 'bad address "10.0.0": bad IPv4 address');
  assertEquals(peer("host name"), 'bad address "host name": bad host name');
  assertEquals(peer("-x"), 'bad address "-x": bad host name');
  assertEquals(peer("x:"), 'bad address "x:": the port must be a number');
  assertEquals(peer("x:http"), 'bad address "x:http": the port must be a number');
  assertEquals(peer("x:0"), 'bad address "x:0": the port must be in 1..65535');
  assertEquals(peer("x:70000", true), 'bad address "x:70000": the port must be in 0..65535');
  assertEquals(
    peer("::1"),
    'bad address "::1": an IPv6 address must be written in brackets, e.g. [::1]:8458',
  );
  assertEquals(
    peer("tcp4://[::1]"),
    'bad address "tcp4://[::1]": tcp4:// cannot take an IPv6 address',
  );
  assertEquals(peer("[::1"), 'bad address "[::1": missing ] after an IPv6 address');
  assertEquals(peer("[::1]x"), 'bad address "[::1]x": expected :PORT after ]');
  assertEquals(peer("[zz]"), 'bad address "[zz]": bad IPv6 address');
});

Deno.test("control addresses: uds://, unix:// or a path, never TCP", () => {
  const ctl = (t: string) => {
    const r = parseControlAddress(t);
    return r.ok ? r.value.path : r.error;
  };
  assertEquals(ctl("uds:///var/run/hastmonctl"), "/var/run/hastmonctl");
  assertEquals(ctl("unix:///tmp/x"), "/tmp/x");
  assertEquals(ctl("/var/run/hastmonctl"), "/var/run/hastmonctl");
  assertEquals(ctl("run/ctl"), "run/ctl");
  assertEquals(
    ctl("tcp://127.0.0.1:1"),
    'bad control address "tcp://127.0.0.1:1": the control socket is a Unix socket ' +
      "(uds://PATH, unix://PATH or a path), not tcp://",
  );
  assertEquals(ctl("uds://"), 'bad control address "uds://": no path');
});

Deno.test("formatPeerAddress brackets IPv6 hosts", () => {
  assertEquals(formatPeerAddress({ host: "::1", port: 1 }), "[::1]:1");
  assertEquals(formatPeerAddress({ host: "a", port: 2 }), "a:2");
});
