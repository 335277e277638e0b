/**
 * The assignment editor's pieces around the tests: each test's output comparison,
 * the result of running the tests on the reference solution, and the offer to regrade
 * after the tests changed.
 */
import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import type { Assignment, Compare, Verification } from '../types';
import { TextField } from './fields';
import { COMPARES, ITestForm, plural } from './model';
import { pointsText } from './parts';

export function compareLabel(trans: TranslationBundle, compare: Compare): string {
  switch (compare) {
    case 'trailing_whitespace':
      return trans.__('Ignore trailing whitespace (default)');
    case 'exact':
      return trans.__('Exact');
    case 'all_whitespace':
      return trans.__('Ignore all whitespace');
    case 'case':
      return trans.__('Ignore case');
    case 'numbers':
      return trans.__('Numbers within a tolerance');
  }
}

/** A test's output comparison, and its tolerance when numbers are compared. */
export function CompareFields(props: {
  trans: TranslationBundle;
  test: ITestForm;
  update: (change: Partial<ITestForm>) => void;
  problem: (field: string) => string | undefined;
  index: number;
}): JSX.Element {
  const { trans, test, update, problem, index } = props;
  return (
    <div className="muscode-Editor-row">
      <TextField
        label={trans.__('Output comparison')}
        problem={problem(`tests[${index}].compare`)}
        className="muscode-Editor-testCompare"
        value={test.compare}
        onValue={v => update({ compare: v as Compare })}
      >
        {c => (
          <select {...c}>
            {COMPARES.map(k => (
              <option key={k} value={k}>
                {compareLabel(trans, k)}
              </option>
            ))}
          </select>
        )}
      </TextField>
      {test.compare === 'numbers' && (
        <TextField
          label={trans.__('Tolerance (empty: 1e-6)')}
          problem={problem(`tests[${index}].tolerance`)}
          className="muscode-Editor-testTolerance"
          value={test.tolerance}
          onValue={tolerance => update({ tolerance })}
        >
          {c => <input {...c} type="number" min={0} step="any" placeholder="1e-6" />}
        </TextField>
      )}
    </div>
  );
}

/** Whether publishing `a` should be confirmed: its tests were not seen to pass on the reference. */
export function unverified(a: Assignment | null): boolean {
  const v = a?.verification;
  return !v || !v.current || v.passed !== true;
}

/** The tests as they ran on the reference solution, test by test. */
export function VerificationResult(props: {
  trans: TranslationBundle;
  verification: Verification;
}): JSX.Element {
  const { trans, verification: v } = props;
  const passed = v.tests.filter(t => t.passed).length;
  const state = v.status !== 'done' ? 'running' : v.passed ? 'passed' : 'failed';
  return (
    <section
      className="muscode-Verify"
      data-state={state}
      aria-label={trans.__('Tests on the reference solution')}
    >
      <p className="muscode-Verify-summary" role="status">
        {state === 'running'
          ? trans.__('The tests are running on the reference solution…')
          : v.passed
            ? trans.__(
                'The reference solution passes every test (%1).',
                plural(v.tests.length, trans.__('test'), trans.__('tests'))
              )
            : trans.__(
                'The reference solution fails: %1 of %2 pass. Fix the tests or the reference before publishing.',
                String(passed),
                plural(v.tests.length, trans.__('test'), trans.__('tests'))
              )}
        {!v.current && state !== 'running' && ' ' + trans.__('(The tests changed since.)')}
      </p>
      {v.message && <p className="muscode-Verify-message">{v.message}</p>}
      {v.compile_output && <pre className="muscode-Code">{v.compile_output}</pre>}
      {v.tests.length > 0 && (
        <ul className="muscode-Verify-tests">
          {v.tests.map(t => (
            <li
              key={t.name}
              data-test={t.name}
              data-passed={t.passed ? 'true' : 'false'}
              className={t.passed ? 'muscode-mod-passed' : 'muscode-mod-failed'}
            >
              <strong>{t.name}</strong>: {t.passed ? trans.__('Passed') : trans.__('Failed')}
              {t.verdict && !t.passed ? ` (${t.verdict})` : ''} · {pointsText(trans, t.points)}
              {!t.passed && t.stdout !== undefined && (
                <details>
                  <summary>{trans.__('What the reference printed')}</summary>
                  <pre className="muscode-Code">{t.stdout}</pre>
                  {t.expected_output !== undefined && t.expected_output !== null && (
                    <>
                      <span>{trans.__('Expected')}</span>
                      <pre className="muscode-Code">{t.expected_output}</pre>
                    </>
                  )}
                </details>
              )}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

/** Submissions graded against other tests than the assignment's: offer a regrade. */
export function RegradeOffer(props: {
  trans: TranslationBundle;
  assignment: Assignment;
  busy: boolean;
  onRegrade: () => void;
}): JSX.Element | null {
  const { trans, assignment: a } = props;
  const stale = a.grading?.stale ?? 0;
  if (!a.regrade_suggested || stale <= 0) {
    return null;
  }
  return (
    <div className="muscode-Editor-regrade" role="group" aria-label={trans.__('Regrade')}>
      <p>
        {trans.__(
          '%1 graded against other tests than these.',
          plural(stale, trans.__('submission was'), trans.__('submissions were'))
        )}
      </p>
      <button
        type="button"
        className="jp-mod-styled jp-mod-accept muscode-Editor-regradeButton"
        disabled={props.busy}
        onClick={props.onRegrade}
      >
        {trans.__('Regrade now')}
      </button>
    </div>
  );
}
