/**
 * The demo's sample service: a web page on a loopback port that names the
 * node serving it, `hastmon demo-service --port P --node N [--epoch E]`. Its
 * hook script starts it in a session of its own and kills it to stop it.
 */

/** The page's text: who serves it, under which epoch, as which process. */
export function pageText(node: string, epoch: string, pid: number): string {
  return `served by ${node} (epoch ${epoch}, pid ${pid})\n`;
}

/** What a fetched page says: the node and epoch, or null when it is not our page. */
export function parsePage(text: string): { node: string; epoch: string } | null {
  const m = /^served by (\S+) \(epoch (\S+), pid \d+\)/.exec(text);
  return m ? { node: m[1], epoch: m[2] } : null;
}

/** Serve the page on 127.0.0.1:`port` until killed; throws (AddrInUse) when the port is taken. */
export async function serveDemoPage(port: number, node: string, epoch: string): Promise<void> {
  const body = pageText(node, epoch, Deno.pid);
  const server = Deno.serve(
    { hostname: "127.0.0.1", port, onListen: () => {} },
    () => new Response(body, { headers: { "content-type": "text/plain; charset=utf-8" } }),
  );
  await server.finished;
}

/** Fetch the page at `url` within `timeoutMs`; null when nobody (or something else) answers. */
export async function fetchPage(
  url: string,
  timeoutMs: number,
): Promise<{ node: string; epoch: string } | null> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  try {
    // A fresh connection each time: a pooled one may lead to a server that is gone.
    const response = await fetch(url, { signal: abort.signal, headers: { connection: "close" } });
    return parsePage(await response.text());
  } catch {
    return null;
  } finally {
    clearTimeout(timer);
  }
}
