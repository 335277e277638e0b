/**
 * Test results: those of Check (the visible tests on the saved project) and those of
 * a submission, with hidden tests shown to students as pass/fail only.
 */
import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { formatDuration, formatMemory } from '../run/output';
import { verdictLabel } from '../run/verdict';
import type { Assignment, Execution, Submission, SubmissionTest } from '../types';
import { formatPoints, scoreText, studentTest } from './model';
import { ManualCells, NotebookCheck, NotebookRows } from './notebook';
import { cellKey } from './nbmodel';
import { lateText, TableHead } from './parts';

/**
 * A visible test's details: its input, and for a failing test what was expected and
 * what was printed. Never used for a hidden test shown to a student.
 */
export function TestOutput(props: {
  trans: TranslationBundle;
  /** The test's input (stdin); '' shows that it has none. */
  stdin?: string;
  expected?: string;
  stdout?: string;
  stderr?: string;
  message?: string | null;
}): JSX.Element | null {
  const { trans } = props;
  const output = Boolean(props.expected || props.stdout || props.stderr || props.message);
  if (!output && props.stdin === undefined) {
    return null;
  }
  return (
    <details className="muscode-TestOutput">
      <summary>{output ? trans.__('Input and output') : trans.__('Input')}</summary>
      {props.message && <p>{props.message}</p>}
      {props.stdin !== undefined && (
        <>
          <h4>{trans.__('Input')}</h4>
          {props.stdin ? (
            <pre className="muscode-TestOutput-stdin">{props.stdin}</pre>
          ) : (
            <p className="muscode-TestOutput-stdin muscode-Empty">{trans.__('(no input)')}</p>
          )}
        </>
      )}
      {props.expected !== undefined && (
        <>
          <h4>{trans.__('Expected')}</h4>
          <pre>{props.expected}</pre>
        </>
      )}
      {props.stdout !== undefined && (
        <>
          <h4>{trans.__('Printed')}</h4>
          <pre>{props.stdout}</pre>
        </>
      )}
      {props.stderr ? (
        <>
          <h4>{trans.__('Errors')}</h4>
          <pre className="muscode-stderr">{props.stderr}</pre>
        </>
      ) : null}
    </details>
  );
}

/** The results of Check: the visible tests, run on the saved project. */
export function CheckResults(props: {
  trans: TranslationBundle;
  run: Execution;
  assignment: Assignment;
  /** Of a notebook assignment: the notebook checked ('': the server's choice). */
  notebook?: string;
}): JSX.Element {
  const { trans, run, assignment } = props;
  if (assignment.format === 'nbgrader') {
    return (
      <NotebookCheck
        trans={trans}
        run={run}
        assignment={assignment}
        notebook={props.notebook ?? ''}
      />
    );
  }
  const tests = run.tests ?? [];
  const passed = tests.filter(t => t.verdict === 'accepted').length;
  return (
    <section className="muscode-Check" aria-label={trans.__('Check results')}>
      <h3>
        {trans.__('Check: %1 of %2 visible tests pass', String(passed), String(tests.length))}
      </h3>
      {run.compile_output && run.verdict === 'compile_error' && (
        <pre className="muscode-stderr">{run.compile_output}</pre>
      )}
      {run.message && <p>{run.message}</p>}
      <table className="muscode-Table muscode-Check-tests">
        <TableHead
          columns={[
            trans.__('Test'),
            trans.__('Result'),
            trans.__('Time'),
            trans.__('Memory'),
            trans.__('Details')
          ]}
        />
        <tbody>
          {tests.map(t => {
            const spec = assignment.tests.find(x => x.name === t.name);
            return (
              <tr key={t.name} data-test={t.name}>
                <td>{t.name}</td>
                <td className={`muscode-verdict-${t.verdict ?? 'none'}`}>
                  {verdictLabel(trans, t.verdict)}
                </td>
                <td>{formatDuration(t.time_ms)}</td>
                <td>{formatMemory(t.memory_kb)}</td>
                <td>
                  {t.verdict !== 'accepted' ? (
                    <TestOutput
                      trans={trans}
                      stdin={spec?.stdin}
                      expected={spec?.expected_output ?? undefined}
                      stdout={t.stdout}
                      stderr={t.stderr}
                      message={t.message}
                    />
                  ) : (
                    <TestOutput trans={trans} stdin={spec?.stdin} />
                  )}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </section>
  );
}

/**
 * The tests of a submission, grouped by notebook when they are cells of several;
 * `asStudent` shows hidden tests as pass/fail only.
 */
export function SubmissionTests(props: {
  trans: TranslationBundle;
  tests: SubmissionTest[];
  asStudent: boolean;
}): JSX.Element {
  const { trans } = props;
  const tests = props.asStudent ? props.tests.map(studentTest) : props.tests;
  return (
    <table className="muscode-Table muscode-Submission-tests">
      <TableHead
        columns={[trans.__('Test'), trans.__('Result'), trans.__('Points'), trans.__('Details')]}
      />
      <NotebookRows
        cells={tests}
        columns={4}
        row={t => {
          const result = t.passed ? trans.__('Passed') : trans.__('Failed');
          const detail =
            t.verdict !== undefined && !t.passed ? ` (${verdictLabel(trans, t.verdict)})` : '';
          return (
            <tr
              key={cellKey(t)}
              data-test={t.name}
              data-hidden={t.hidden ? 'true' : 'false'}
              className={t.passed ? 'muscode-mod-passed' : 'muscode-mod-failed'}
            >
              <td>
                {t.name}
                {t.hidden && <span className="muscode-Badge">{trans.__('hidden')}</span>}
              </td>
              <td className="muscode-Submission-result">
                {result}
                {props.asStudent && t.hidden ? '' : detail}
              </td>
              <td>
                {formatPoints(t.points_awarded)} / {formatPoints(t.points)}
              </td>
              <td>
                {!(props.asStudent && t.hidden) &&
                  (t.passed ? (
                    <TestOutput trans={trans} stdin={t.stdin ?? undefined} />
                  ) : (
                    <TestOutput
                      trans={trans}
                      stdin={t.stdin ?? undefined}
                      expected={t.expected_output ?? undefined}
                      stdout={t.stdout ?? t.output}
                      stderr={t.stderr}
                      message={t.message}
                    />
                  ))}
              </td>
            </tr>
          );
        }}
      />
    </table>
  );
}

export function SubmissionSummary(props: {
  trans: TranslationBundle;
  submission: Submission;
  asStudent: boolean;
}): JSX.Element {
  const { trans, submission: s } = props;
  return (
    <section
      className="muscode-Submission"
      data-status={s.status}
      aria-label={trans.__('Attempt %1', String(s.attempt))}
    >
      <p className="muscode-Submission-score" role="status">
        {s.status === 'grading'
          ? trans.__('Attempt %1: grading…', String(s.attempt))
          : trans.__(
              'Attempt %1: score %2',
              String(s.attempt),
              scoreText(s.score, s.max_score) || '–'
            )}
        {s.late && <span className="muscode-Badge muscode-mod-late">{lateText(trans, s)}</span>}
        {s.override && <span className="muscode-Badge">{trans.__('score set by staff')}</span>}
      </p>
      {s.override?.comment && (
        <p className="muscode-Submission-comment">
          {trans.__('Comment from %1: %2', s.override.by, s.override.comment)}
        </p>
      )}
      {s.message && <p>{s.message}</p>}
      {s.compile_output && s.verdict === 'compile_error' && (
        <pre className="muscode-stderr">{s.compile_output}</pre>
      )}
      {s.status === 'graded' && s.tests.length > 0 && (
        <SubmissionTests trans={trans} tests={s.tests} asStudent={props.asStudent} />
      )}
      {props.asStudent && s.status === 'graded' && (s.manual?.length ?? 0) > 0 && (
        <ManualCells trans={trans} cells={s.manual ?? []} />
      )}
    </section>
  );
}
