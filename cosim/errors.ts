/**
 * Error classes that the command line turns into exit codes without a stack trace.
 *
 * - UserError (exit 2): the input was wrong (scenario, manifest, missing tool, bad flag).
 * - RunFailure (exit 1): the run itself failed: a scoreboard mismatch, a timing check
 *   outside tolerance, or the RTL process crashing, exiting or going silent.
 */
export class UserError extends Error {
  readonly exitCode = 2;
  constructor(message: string) {
    super(message);
    this.name = "UserError";
  }
}

export class RunFailure extends Error {
  readonly exitCode = 1;
  constructor(message: string) {
    super(message);
    this.name = "RunFailure";
  }
}

/** A user error located in a source file: the message starts with `file:line:col:`. */
export class SourceError extends UserError {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly col: number,
    readonly detail: string,
  ) {
    super(`${file}:${line}:${col}: ${detail}`);
    this.name = "SourceError";
  }
}
