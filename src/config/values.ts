/** Effective values back in the file's units, for people (`config show`) and JSON. */

import { fmt } from "../core/timing.ts";
import type { ControlAddress, PeerAddress } from "./address.ts";
import type { KeySpec } from "./schema.ts";
import type { Provenance, Setting } from "./types.ts";

/** A value as the file would write it: seconds, address texts, absolute paths, argv lists. */
export type FileValue = number | string | string[] | Record<string, string> | null;

/** `setting` of `spec` in file units. */
export function fileValue(spec: KeySpec, setting: Setting): FileValue {
  const v = setting.value;
  if (v === null) return null;
  switch (spec.kind) {
    case "duration":
    case "duration_or_zero":
      return (v as number) / 1000;
    case "control_address":
      return (v as ControlAddress).path;
    case "listen_address":
      return (v as PeerAddress).text;
    case "address_list":
      return (v as PeerAddress[]).map((a) => a.text);
    case "remote":
      return v === "none" ? "none" : (v as PeerAddress[]).map((a) => a.text);
    case "command":
    case "public_keys":
      return [...(v as string[])];
    case "env":
      return { ...(v as Record<string, string>) };
    default:
      return v as number | string;
  }
}

/** `setting` of `spec` as one short line of text: "10s", "a:1, b:2", "-" for unset. */
export function displayValue(spec: KeySpec, setting: Setting): string {
  const v = fileValue(spec, setting);
  if (v === null) return "-";
  if (spec.kind === "duration" || spec.kind === "duration_or_zero") {
    return fmt(setting.value as number);
  }
  if (spec.kind === "command") return commandLine(v as string[]);
  if (spec.kind === "env") {
    const vars = Object.entries(v as Record<string, string>);
    return vars.length === 0
      ? "(none)"
      : vars.map(([k, x]) => `${k}=${JSON.stringify(x)}`).join(" ");
  }
  if (Array.isArray(v)) return v.length === 0 ? "(none)" : v.join(", ");
  return String(v);
}

/** An argv as a shell-like line, quoting only what needs it. */
export function commandLine(argv: readonly string[]): string {
  return argv.map((a) => /^[A-Za-z0-9_./:=@%+-]+$/.test(a) ? a : JSON.stringify(a)).join(" ");
}

/** "default", or "resource.web.on.alpha:12". */
export function describeProvenance(p: Provenance): string {
  return p.line === undefined ? p.section : `${p.section}:${p.line}`;
}
