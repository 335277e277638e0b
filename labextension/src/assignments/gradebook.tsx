/**
 * The gradebook of a class (staff): every student's best score in every assignment,
 * and its CSV.
 */
import * as React from 'react';

import type { Class } from '../types';
import type { IAssignmentContext } from './context';
import { useResource } from './hooks';
import { csvFileName, formatPoints } from './model';
import { downloadText, ErrorBox, Note } from './parts';

export function GradebookView(props: { ctx: IAssignmentContext; klass: Class }): JSX.Element {
  const { ctx, klass } = props;
  const { trans } = ctx;
  const grades = useResource(() => ctx.client().classGrades(klass.id), [klass.id]);
  const { value: book, reload } = grades;

  const download = async () => {
    try {
      downloadText(await ctx.client().classGradesCsv(klass.id), csvFileName(klass.slug));
      grades.setNote(trans.__('Downloaded the gradebook as CSV.'));
    } catch (err) {
      grades.fail(err);
    }
  };

  return (
    <div className="muscode-Gradebook-view">
      <header className="muscode-View-header">
        <h2>{trans.__('Grades of %1', klass.name)}</h2>
      </header>
      <div className="muscode-Actions" role="toolbar" aria-label={trans.__('Gradebook actions')}>
        <button type="button" className="jp-mod-styled" onClick={() => void reload()}>
          {trans.__('Refresh')}
        </button>
        <button
          type="button"
          className="jp-mod-styled muscode-Gradebook-csv"
          onClick={() => void download()}
        >
          {trans.__('Download grades (CSV)')}
        </button>
      </div>
      <Note text={grades.note} />
      <ErrorBox message={grades.error} />
      {book && !book.students.length && (
        <p className="muscode-Empty">{trans.__('No students yet.')}</p>
      )}
      {book && book.students.length > 0 && (
        <table className="muscode-Table muscode-Gradebook-table">
          <thead>
            <tr>
              <th scope="col">{trans.__('Student')}</th>
              {book.assignments.map(a => (
                <th scope="col" key={a.id}>
                  {a.title}
                  <span className="muscode-Table-sub">
                    {trans.__('/ %1', formatPoints(a.max_score))}
                  </span>
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {book.students.map(s => (
              <tr key={s.name}>
                <th scope="row">{s.name}</th>
                {book.assignments.map(a => {
                  const score = s.scores[a.id];
                  return (
                    <td key={a.id}>
                      {score === null || score === undefined ? '–' : formatPoints(score)}
                    </td>
                  );
                })}
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
