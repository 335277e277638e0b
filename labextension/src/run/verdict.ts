import { TranslationBundle } from '@jupyterlab/translation';

import type { Verdict } from '../types';

/** A verdict in words, as the output panel and the assignment views show it. */
export function verdictLabel(trans: TranslationBundle, verdict: Verdict): string {
  switch (verdict) {
    case 'accepted':
      return trans.__('Accepted');
    case 'wrong_answer':
      return trans.__('Wrong answer');
    case 'compile_error':
      return trans.__('Compile error');
    case 'runtime_error':
      return trans.__('Runtime error');
    case 'time_limit_exceeded':
      return trans.__('Time limit exceeded');
    case 'memory_limit_exceeded':
      return trans.__('Memory limit exceeded');
    case 'output_limit_exceeded':
      return trans.__('Output limit exceeded');
    case 'cancelled':
      return trans.__('Stopped');
    case 'internal_error':
      return trans.__('Internal error');
    default:
      return trans.__('No verdict');
  }
}

/** What the output panel knows of a finished run to name its outcome. */
export interface IRunOutcome {
  verdict: Verdict;
  exitCode: number | null;
  signal: number | null;
  /** The run was judged: it had tests or an expected output. */
  judged: boolean;
}

/**
 * A run's outcome in words. A judged run keeps the verdict words; a plain run (no
 * tests, no expected output) is "Finished · exit 0" or "Exited with code N", not
 * "Accepted" (a judge's word for something nobody asked to be judged).
 */
export function runOutcomeLabel(trans: TranslationBundle, run: IRunOutcome): string {
  if (!run.judged && run.verdict === 'accepted') {
    return trans.__('Finished · exit %1', String(run.exitCode ?? 0));
  }
  if (
    !run.judged &&
    run.verdict === 'runtime_error' &&
    (run.signal === null || run.signal === undefined) &&
    typeof run.exitCode === 'number' &&
    run.exitCode !== 0
  ) {
    return trans.__('Exited with code %1', String(run.exitCode));
  }
  return verdictLabel(trans, run.verdict);
}
