/**
 * A notebook run in words: its progress while it runs, its outcome once done (the
 * verdict, and the cell that failed). Cells are numbered as the student counts them,
 * from 1 among all cells of the notebook, the way the executed copy labels them.
 */
import type { TranslationBundle } from '@jupyterlab/translation';

import type { OutputModel } from '../run/output';
import { verdictLabel } from '../run/verdict';
import type { CellResult, Execution } from '../types';

/** The first cell that raised, or null. */
export function failedCell(cells: ReadonlyArray<CellResult> | undefined): CellResult | null {
  return (cells ?? []).find(c => c.status === 'error') ?? null;
}

/** "ename: evalue" of a cell that raised (either may be missing). */
export function errorText(cell: Pick<CellResult, 'ename' | 'evalue'>): string {
  return [cell.ename, cell.evalue].filter(Boolean).join(': ');
}

/**
 * The outcome of a finished notebook run: "Accepted · 3 cells ran", or
 * "Runtime error in cell 2: ZeroDivisionError: division by zero", or the verdict and
 * the server's message (a time limit, a dead kernel).
 */
export function notebookOutcome(trans: TranslationBundle, run: Execution): string {
  const verdict = verdictLabel(trans, run.verdict);
  const cells = run.cells ?? [];
  const failed = failedCell(cells);
  if (run.verdict === 'accepted') {
    const ran = cells.filter(c => c.status !== 'not_run').length;
    return trans._n('%2 · %1 cell ran', '%2 · %1 cells ran', ran, verdict);
  }
  if (failed && run.verdict === 'runtime_error') {
    return trans.__('%1 in cell %2: %3', verdict, String(failed.index + 1), errorText(failed));
  }
  return run.message ? `${verdict}: ${run.message}` : verdict;
}

/** What a notebook run is doing now, for the notebook's toolbar. */
export function notebookProgress(trans: TranslationBundle, model: OutputModel): string {
  switch (model.phase) {
    case 'starting':
      return trans.__('Saving and starting…');
    case 'queued':
      return trans.__('Waiting for the sandbox…');
    case 'running':
      return model.runningCell === null
        ? trans.__('Starting the kernel…')
        : trans.__('Running cell %1…', String(model.runningCell + 1));
    case 'done':
      return model.result ? notebookOutcome(trans, model.result) : '';
    case 'failed':
      return model.error ?? '';
    default:
      return '';
  }
}

/** The title of the executed copy of `path`: "main.ipynb — run in sandbox". */
export function executedTitle(trans: TranslationBundle, path: string): string {
  const name = path.split('/').pop() ?? path;
  return trans.__('%1 — run in sandbox', name);
}
