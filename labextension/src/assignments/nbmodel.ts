/**
 * Notebook (nbgrader) assignments without the DOM: the source notebooks among the
 * starter files, cells grouped by the notebook they belong to, the keys of staff's
 * manual scores, and how a student's facts line counts the cells.
 */
import { TranslationBundle } from '@jupyterlab/translation';

import type { Assignment, StarterFile } from '../types';
import { formatPoints, withSourceNotebook } from './model';

/**
 * A graded cell, autograded or manual, of an assignment or a submission. Of an
 * assignment of several notebooks the server names the cell's `notebook` (its path);
 * without it the cell belongs to the assignment's one notebook.
 */
export interface INotebookCell {
  name: string;
  notebook?: string | null;
}

/** One notebook's cells, in the order the server listed them. */
export interface INotebookGroup<T> {
  /** The notebook's path ('' when it is not known). */
  notebook: string;
  cells: T[];
}

/** Is `path` a notebook? */
export function isNotebook(path: string): boolean {
  return path.toLowerCase().endsWith('.ipynb');
}

/** The paths of the notebooks among `files`, in their order. */
export function notebookPaths(files: { path: string }[]): string[] {
  return files.map(f => f.path).filter(isNotebook);
}

/** `files` with each of `notebooks` in place of the starter file of its path. */
export function withSourceNotebooks(files: StarterFile[], notebooks: StarterFile[]): StarterFile[] {
  // each new one goes first, so the last imported ends first: keep the chosen order
  return [...notebooks].reverse().reduce(withSourceNotebook, files);
}

/** The notebook a cell belongs to: its own `notebook`, else `fallback`. */
export function notebookOf(cell: INotebookCell, fallback: string): string {
  return cell.notebook || fallback;
}

/**
 * `cells` grouped by notebook, the notebooks in the order they first appear; a cell
 * without a `notebook` belongs to `fallback` (the assignment's one notebook).
 */
export function byNotebook<T extends INotebookCell>(
  cells: T[],
  fallback = ''
): INotebookGroup<T>[] {
  const groups = new Map<string, T[]>();
  for (const cell of cells) {
    const notebook = notebookOf(cell, fallback);
    const list = groups.get(notebook) ?? [];
    list.push(cell);
    groups.set(notebook, list);
  }
  return [...groups.entries()].map(([notebook, list]) => ({ notebook, cells: list }));
}

/**
 * A cell's key among the cells of all notebooks: `"<notebook path>:<grade_id>"` when
 * the server named its notebook, else its grade_id.
 */
export function cellKey(cell: INotebookCell): string {
  return cell.notebook ? `${cell.notebook}:${cell.name}` : cell.name;
}

/**
 * How a cell is named among `cells` (a field's label): its grade_id when they all
 * belong to one notebook (the server names the notebook of each cell, of one notebook
 * too), its {@link cellKey} when they span several.
 */
export function cellLabel(cell: INotebookCell, cells: INotebookCell[]): string {
  return byNotebook(cells).length > 1 ? cellKey(cell) : cell.name;
}

/** The key of a manual cell in `PATCH /submissions/{id} {"manual_scores"}`. */
export const manualScoreKey = cellKey;

/**
 * The body of a save of staff's scores: each cell's field (by its
 * {@link manualScoreKey}) as a number; an empty field removes a score staff gave, and
 * leaves out a cell they never scored.
 */
export function manualScores(
  cells: (INotebookCell & { scored_by_staff?: boolean })[],
  values: Record<string, string>
): Record<string, number | null> {
  const scores: Record<string, number | null> = {};
  for (const cell of cells) {
    const key = manualScoreKey(cell);
    const text = (values[key] ?? '').trim();
    if (text !== '') {
      scores[key] = Number(text);
    } else if (cell.scored_by_staff) {
      scores[key] = null;
    }
  }
  return scores;
}

/**
 * The notebooks of `a` a student can check (`POST /assignments/{id}/check
 * {"notebook"}`): those with visible test cells, in the order of its cells.
 */
export function checkableNotebooks(a: Assignment): string[] {
  const paths = a.tests.filter(t => !t.hidden && t.notebook).map(t => t.notebook as string);
  return [...new Set(paths)];
}

/**
 * The grade_ids of the visible test cells a check of `notebook` ran ('': the one the
 * server chose, of an assignment of one notebook: every visible cell).
 */
export function checkedCells(a: Assignment, notebook: string): Set<string> {
  return new Set(
    a.tests.filter(t => !t.hidden && (!notebook || t.notebook === notebook)).map(t => t.name)
  );
}

/** The term and text of a student's facts line about an assignment's tests. */
export function testsFact(trans: TranslationBundle, a: Assignment): { term: string; text: string } {
  const hidden = a.tests.filter(t => t.hidden).length;
  const visible = a.tests.length - hidden;
  const points = formatPoints(a.max_score);
  if (a.format !== 'nbgrader') {
    return {
      term: trans.__('Tests'),
      text: trans.__('%1 visible, %2 hidden; %3 points', String(visible), String(hidden), points)
    };
  }
  const manual = a.manual?.length ?? 0;
  // `_n` puts the count in %1
  const cells = trans._n(
    '%1 test cell (%2 visible, %3 hidden)',
    '%1 test cells (%2 visible, %3 hidden)',
    a.tests.length,
    String(visible),
    String(hidden)
  );
  const total =
    a.max_score === 1 ? trans.__('1 point') : trans.__('%1 points', formatPoints(a.max_score));
  return {
    term: trans.__('Graded cells'),
    text: manual
      ? trans.__('%1, %2 graded by your teacher; %3', cells, String(manual), total)
      : trans.__('%1; %2', cells, total)
  };
}
