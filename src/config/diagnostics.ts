/**
 * Configuration diagnostics: every problem a user can cause carries the file
 * and the 1-based line and column of the offending key or value, so that
 * editors and people can jump to it.
 */

/** One error or warning about a configuration file. Lines and columns are 1-based. */
export interface ConfigError {
  file: string;
  line: number;
  col: number;
  message: string;
  /** The resource the problem concerns; absent when it concerns the whole file. */
  resource?: string;
  /**
   * Set on the one error a program may want to tell apart: the resource has no
   * `[resource.R.on.NODE]` for the node the file was read as (a simulator reading
   * the file for every node ignores it).
   */
  code?: "no_section_for_node";
}

/** A warning has the same shape as an error; it does not make the file unusable. */
export type ConfigWarning = ConfigError;

/** A position in a source text, 1-based. */
export interface Pos {
  line: number;
  col: number;
}

/** Format a diagnostic as `file:line:col: message` (warnings get a `warning: ` prefix). */
export function formatDiagnostic(d: ConfigError, kind: "error" | "warning" = "error"): string {
  const prefix = kind === "warning" ? "warning: " : "";
  return `${d.file}:${d.line}:${d.col}: ${prefix}${d.message}`;
}

/** Order diagnostics by position, so that output follows the file. */
export function byPosition(a: ConfigError, b: ConfigError): number {
  return a.file === b.file ? a.line - b.line || a.col - b.col : a.file < b.file ? -1 : 1;
}

/** Collects errors and warnings for one file while it is being checked. */
export class Diagnostics {
  readonly errors: ConfigError[] = [];
  readonly warnings: ConfigWarning[] = [];

  constructor(readonly file: string) {}

  /** Record an error at `pos`, optionally attributed to one resource. */
  error(pos: Pos, message: string, resource?: string, code?: ConfigError["code"]): void {
    const d = this.make(pos, message, resource);
    if (code !== undefined) d.code = code;
    this.errors.push(d);
  }

  /** Record a warning at `pos`. */
  warn(pos: Pos, message: string, resource?: string): void {
    this.warnings.push(this.make(pos, message, resource));
  }

  private make(pos: Pos, message: string, resource?: string): ConfigError {
    const d: ConfigError = { file: this.file, line: pos.line, col: pos.col, message };
    if (resource !== undefined) d.resource = resource;
    return d;
  }
}
