/** Exit codes: sysexits(3) for hastmon's own commands. */
export const EX = {
  OK: 0,
  USAGE: 64,
  DATAERR: 65,
  NOINPUT: 66,
  UNAVAILABLE: 69,
  SOFTWARE: 70,
  CANTCREAT: 73,
  TEMPFAIL: 75,
  NOPERM: 77,
  CONFIG: 78,
} as const;

/** An error a user can cause: printed as one line, exits with `code`. */
export class CliError extends Error {
  constructor(message: string, readonly code: number) {
    super(message);
  }
}
