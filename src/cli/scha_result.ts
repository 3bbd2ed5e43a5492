/**
 * A scha answer as the CLI takes it: checked, turned into a SCHA_ERR number
 * (the Solaris commands exit with it) or, for `hastmon ctl restart|
 * resource-restart|giveover`, into a sysexits code.
 */
import { CliError, EX } from "./exit.ts";
import type { ControlResponse, SchaResult } from "../control/protocol.ts";
import { schaErrName } from "../control/format_scha.ts";
import { SCHA_ERR } from "../core/scha.ts";
import type { GiveoverPlan } from "../core/types.ts";

/** A scha_* failure: printed as one line, exits with its SCHA_ERR number. */
export function schaError(message: string, code: number): CliError {
  return new CliError(`${schaErrName(code)}: ${message}`, code);
}

/**
 * The SchaResult of a scha or setstatus answer. A request the daemon could
 * not parse is SCHA_ERR_INVAL; any other error, or a number outside 0–18
 * (which scripts do not know), is SCHA_ERR_INTERNAL.
 */
export function schaResultOf(response: ControlResponse): SchaResult {
  if (!response.ok) {
    const code = response.error.code === "bad_request" ? SCHA_ERR.INVAL : SCHA_ERR.INTERNAL;
    throw schaError(`the daemon refused the request: ${response.error.message}`, code);
  }
  const r = response.result as Partial<SchaResult> | null;
  if (
    typeof r !== "object" || r === null || typeof r.code !== "number" ||
    !Number.isInteger(r.code) || r.code < 0 || r.code > SCHA_ERR.INTERNAL ||
    typeof r.message !== "string" ||
    (r.plan !== undefined && !Array.isArray((r.plan as Partial<GiveoverPlan> | null)?.nodes))
  ) {
    throw schaError(
      `the daemon's answer has an unexpected shape: ${JSON.stringify(r).slice(0, 200)}`,
      SCHA_ERR.INTERNAL,
    );
  }
  return r as SchaResult;
}

/**
 * The sysexits code of `ctl restart|resource-restart|giveover` for a SCHA_ERR
 * number: 65 no such group or member, 64 a bad request, 75 refused for now
 * (retry, or act on what blocks it), 77 permission, 70 anything else.
 */
export function sysexitOfScha(code: number): number {
  switch (code) {
    case SCHA_ERR.NOERR:
      return EX.OK;
    case SCHA_ERR.RG:
    case SCHA_ERR.RSRC:
      return EX.DATAERR;
    case SCHA_ERR.INVAL:
    case SCHA_ERR.TAG:
    case SCHA_ERR.NODE:
      return EX.USAGE;
    case SCHA_ERR.RECONF:
    case SCHA_ERR.STATE:
    case SCHA_ERR.CHECKS:
      return EX.TEMPFAIL;
    case SCHA_ERR.ACCESS:
      return EX.NOPERM;
    default:
      return EX.SOFTWARE;
  }
}
