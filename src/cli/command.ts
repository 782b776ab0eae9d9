/** What each module in ./commands exports: one command of the command line. */
export interface Command {
  /** Runs the command; resolves to the process exit code. */
  run(argv: string[]): Promise<number>;
}
