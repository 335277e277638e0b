/**
 * Notebook (nbgrader) assignments in the assignment views: the format and the import
 * of the source notebooks in the editor, their graded cells read-only, and a notebook
 * submission's manually graded cells (scored by staff, shown to the student); cells
 * grouped by notebook when an assignment has several.
 */
import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { describeError } from '../request';
import type {
  Assignment,
  AssignmentFormat,
  CellResult,
  Execution,
  ManualCell,
  Submission
} from '../types';
import { Field } from './fields';
import { formatPoints, IAssignmentForm, scoreText } from './model';
import {
  byNotebook,
  cellKey,
  cellLabel,
  checkedCells,
  INotebookCell,
  isNotebook,
  manualScoreKey,
  manualScores,
  notebookPaths,
  withSourceNotebooks
} from './nbmodel';
import { ErrorBox, Note, pointsText, TableHead } from './parts';

/**
 * The editor's format choice; for a notebook assignment the import of its nbgrader
 * source notebooks (several at once) and (once saved) their graded cells. The format
 * is fixed once created.
 */
export function NotebookSource(props: {
  trans: TranslationBundle;
  form: IAssignmentForm;
  /** The assignment as saved (null for a new one). */
  saved: Assignment | null;
  onChange: (patch: Partial<IAssignmentForm>) => void;
}): JSX.Element {
  const { trans, form, saved, onChange } = props;
  const [problem, setProblem] = React.useState('');
  const notebook = form.format === 'nbgrader';

  const read = async (input: HTMLInputElement) => {
    const files = [...(input.files ?? [])];
    const others = files.filter(f => !isNotebook(f.name)).map(f => f.name);
    setProblem(
      others.length
        ? trans.__('Not notebooks, left out: %1. Choose .ipynb files.', others.join(', '))
        : ''
    );
    const notebooks = await Promise.all(
      files
        .filter(f => isNotebook(f.name))
        .map(async f => ({ path: f.name, content: await f.text() }))
    );
    if (notebooks.length) {
      onChange({ starterFiles: withSourceNotebooks(form.starterFiles, notebooks) });
    }
  };

  return (
    <fieldset className="muscode-Editor-notebook">
      <legend>{trans.__('Format')}</legend>
      <Field label={trans.__('Graded by')}>
        {ids => (
          <select
            {...ids}
            className="muscode-Editor-format"
            value={form.format}
            disabled={saved !== null}
            title={saved ? trans.__('The format is fixed once the assignment exists') : undefined}
            onChange={e => {
              const format = e.currentTarget.value as AssignmentFormat;
              onChange(format === 'nbgrader' ? { format, language: 'python' } : { format });
            }}
          >
            <option value="files">{trans.__('Tests that run the program')}</option>
            <option value="nbgrader">{trans.__('A notebook (nbgrader)')}</option>
          </select>
        )}
      </Field>
      {notebook && (
        <>
          <Field
            label={trans.__('Source notebooks (nbgrader; each becomes a starter file)')}
            problem={problem || undefined}
          >
            {ids => (
              <input
                {...ids}
                type="file"
                accept=".ipynb"
                multiple
                className="muscode-Editor-notebookFile"
                onChange={e => void read(e.currentTarget)}
              />
            )}
          </Field>
          <p className="muscode-Empty">
            {trans.__(
              'Its graded cells are the tests; students get it without solutions and hidden tests.'
            )}
          </p>
          {saved?.format === 'nbgrader' && <NotebookCells trans={trans} assignment={saved} />}
        </>
      )}
    </fieldset>
  );
}

/**
 * Table rows of cells, in one body; of cells of several notebooks, one body per
 * notebook headed by its path. A cell without `notebook` is `fallback`'s.
 */
export function NotebookRows<T extends INotebookCell>(props: {
  cells: T[];
  /** The table's number of columns. */
  columns: number;
  row: (cell: T) => JSX.Element;
  fallback?: string;
}): JSX.Element {
  const groups = byNotebook(props.cells, props.fallback);
  if (groups.length <= 1) {
    return <tbody>{props.cells.map(props.row)}</tbody>;
  }
  return (
    <>
      {groups.map(g => (
        <tbody key={g.notebook} data-notebook={g.notebook}>
          <tr className="muscode-NotebookGroup">
            <th colSpan={props.columns} scope="rowgroup">
              {g.notebook}
            </th>
          </tr>
          {g.cells.map(props.row)}
        </tbody>
      ))}
    </>
  );
}

type GradedCell = INotebookCell & { points: number; kind: 'auto' | 'manual'; hidden?: boolean };

/** A notebook assignment's graded cells as the server read them (read-only). */
export function NotebookCells(props: {
  trans: TranslationBundle;
  assignment: Assignment;
}): JSX.Element {
  const { trans, assignment: a } = props;
  const cells: GradedCell[] = [
    ...a.tests.map(t => ({ ...t, points: t.points ?? 0, kind: 'auto' as const })),
    ...(a.manual ?? []).map(m => ({ ...m, kind: 'manual' as const }))
  ];
  return (
    <table className="muscode-Table muscode-Editor-cells">
      <caption>{trans.__('Graded cells (%1 points in all)', formatPoints(a.max_score))}</caption>
      <TableHead columns={[trans.__('Cell'), trans.__('Graded'), trans.__('Points')]} />
      <NotebookRows
        cells={cells}
        columns={3}
        fallback={notebookPaths(a.starter_files)[0]}
        row={c => (
          <tr key={cellKey(c)} data-cell={c.name} data-kind={c.kind}>
            <td>{c.name}</td>
            <td>
              {c.kind === 'manual'
                ? trans.__('by hand')
                : c.hidden
                  ? trans.__('automatically (hidden tests)')
                  : trans.__('automatically')}
            </td>
            <td>{formatPoints(c.points)}</td>
          </tr>
        )}
      />
    </table>
  );
}

/** The grade_id of each cell of an executed notebook, by index (undefined: none). */
function gradeIds(notebook: Execution['notebook']): (string | undefined)[] {
  const cells = (notebook as { cells?: { metadata?: { nbgrader?: { grade_id?: string } } }[] })
    ?.cells;
  return (cells ?? []).map(c => c.metadata?.nbgrader?.grade_id);
}

/**
 * Check of a notebook assignment: the student's notebook (`notebook`, of several; ''
 * of one) run with the visible test cells put back; each of those cells ran without
 * an error, or raised (which).
 */
export function NotebookCheck(props: {
  trans: TranslationBundle;
  run: Execution;
  assignment: Assignment;
  notebook: string;
}): JSX.Element {
  const { trans, run, assignment, notebook } = props;
  const ids = gradeIds(run.notebook);
  const visible = checkedCells(assignment, notebook);
  const rows = (run.cells ?? [])
    .map(c => ({ cell: c, name: ids[c.index] }))
    .filter((r): r is { cell: CellResult; name: string } => !!r.name && visible.has(r.name));
  const passed = rows.filter(r => r.cell.status === 'ok').length;
  return (
    <section
      className="muscode-Check"
      aria-label={trans.__('Check results')}
      data-notebook={notebook || undefined}
    >
      <h3>
        {notebook
          ? trans.__(
              'Check of %1: %2 of %3 visible test cells ran without errors',
              notebook,
              String(passed),
              String(rows.length)
            )
          : trans.__(
              'Check: %1 of %2 visible test cells ran without errors',
              String(passed),
              String(rows.length)
            )}
      </h3>
      {run.message && <p>{run.message}</p>}
      <table className="muscode-Table muscode-Check-tests">
        <TableHead columns={[trans.__('Cell'), trans.__('Result')]} />
        <tbody>
          {rows.map(({ cell, name }) => (
            <tr
              key={name}
              data-test={name}
              className={cell.status === 'ok' ? 'muscode-mod-passed' : 'muscode-mod-failed'}
            >
              <td>{name}</td>
              <td>
                {cell.status === 'ok'
                  ? trans.__('Passed')
                  : cell.status === 'error'
                    ? trans.__('Failed: %1', [cell.ename, cell.evalue].filter(Boolean).join(': '))
                    : trans.__('Not run')}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

function manualScoreText(trans: TranslationBundle, m: ManualCell): string {
  return m.score === null
    ? trans.__('not graded yet (%1)', pointsText(trans, m.points))
    : scoreText(m.score, m.points);
}

/** A student's view of the manually graded cells: who grades them and the score. */
export function ManualCells(props: { trans: TranslationBundle; cells: ManualCell[] }): JSX.Element {
  const { trans } = props;
  return (
    <table className="muscode-Table muscode-Submission-manual">
      <TableHead columns={[trans.__('Cell'), trans.__('Graded'), trans.__('Points')]} />
      <NotebookRows
        cells={props.cells}
        columns={3}
        row={m => (
          <tr key={cellKey(m)} data-cell={m.name}>
            <td>{m.name}</td>
            <td>{trans.__('graded by your teacher')}</td>
            <td className="muscode-Submission-manualScore">{manualScoreText(trans, m)}</td>
          </tr>
        )}
      />
    </table>
  );
}

/**
 * Staff scoring of a notebook submission's manually graded cells: a number per cell
 * (empty: no score of the staff's), saved together; the server's problems shown.
 */
export function ManualGrading(props: {
  trans: TranslationBundle;
  submission: Submission;
  save: (scores: Record<string, number | null>) => Promise<Submission>;
  onSaved: (changed: Submission) => void;
}): JSX.Element {
  const { trans, submission: s } = props;
  const cells = s.manual ?? [];
  // by the key the server reads: "<notebook>:<grade_id>" of a cell with a notebook
  const initial = () =>
    Object.fromEntries(
      cells.map(m => [manualScoreKey(m), m.score === null ? '' : String(m.score)])
    );
  const [values, setValues] = React.useState<Record<string, string>>(initial);
  const [error, setError] = React.useState<string | null>(null);
  const [note, setNote] = React.useState('');
  const [busy, setBusy] = React.useState(false);

  const save = async () => {
    const scores = manualScores(cells, values);
    setBusy(true);
    setError(null);
    setNote('');
    try {
      const changed = await props.save(scores);
      props.onSaved(changed);
      setNote(
        trans.__(
          'Saved the scores of %1: total %2.',
          s.student,
          scoreText(changed.score, changed.max_score) || '–'
        )
      );
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section
      className="muscode-ManualGrading"
      aria-label={trans.__('Manually graded cells of %1', s.student)}
    >
      <h4>{trans.__('Manually graded cells')}</h4>
      <ErrorBox message={error} />
      <Note text={note} />
      <table className="muscode-Table muscode-ManualGrading-cells">
        <TableHead columns={[trans.__('Cell'), trans.__('Answer'), trans.__('Points')]} />
        <NotebookRows
          cells={cells}
          columns={3}
          row={m => (
            <tr key={cellKey(m)} data-cell={m.name}>
              <td>{m.name}</td>
              <td>
                {m.answer ? (
                  <details>
                    <summary>{trans.__('Answer')}</summary>
                    <pre>{m.answer}</pre>
                  </details>
                ) : (
                  <span className="muscode-Empty">{trans.__('(no answer)')}</span>
                )}
              </td>
              <td>
                <Field
                  label={trans.__(
                    'Points for %1 (0 to %2)',
                    cellLabel(m, cells),
                    formatPoints(m.points)
                  )}
                >
                  {ids => (
                    <input
                      {...ids}
                      type="number"
                      className="muscode-ManualGrading-score"
                      min={0}
                      max={m.points}
                      step="any"
                      value={values[manualScoreKey(m)] ?? ''}
                      onChange={e => {
                        const value = e.currentTarget.value;
                        setValues(v => ({ ...v, [manualScoreKey(m)]: value }));
                      }}
                    />
                  )}
                </Field>
              </td>
            </tr>
          )}
        />
      </table>
      <button
        type="button"
        className="jp-mod-styled jp-mod-accept muscode-ManualGrading-save"
        disabled={busy}
        onClick={() => void save()}
      >
        {trans.__('Save scores')}
      </button>
    </section>
  );
}
