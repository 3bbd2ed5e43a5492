/**
 * The one control API of hastmon: the protocol types, the daemon's server,
 * the client that `hastmon ctl` and the console use, and the renderings of
 * its answers.
 *
 *   // daemon
 *   const server = await ControlServer.listen(path, handler, log);
 *   // ctl, console
 *   const client = await ControlClient.connect(path, { timeoutMs: 5000 });
 *   const response = await client.request({ type: "status" });
 */

export * from "./protocol.ts";
export {
  ControlClient,
  ControlClientError,
  type ControlClientErrorKind,
  type ControlClientOptions,
  type ControlRequestInput,
  type FollowOptions,
} from "./client.ts";
export {
  type ControlLog,
  ControlServer,
  type ControlServerOptions,
  SocketFileError,
  type SocketFileErrorKind,
} from "./server.ts";
export {
  eventJson,
  formatDuration,
  formatEvent,
  formatResourceText,
  formatRoleText,
  formatStatusText,
  type ResourceJson,
  STATUS_JSON_VERSION,
  type StatusJson,
  statusJson,
} from "./format.ts";
