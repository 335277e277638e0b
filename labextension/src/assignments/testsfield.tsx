/**
 * The editor's tests of an assignment that runs the program: name, points, hidden,
 * input, expected output and how the output is compared, per test.
 */
import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { ListEditor, TextField } from './fields';
import { emptyTest, ITestForm } from './model';
import { pointsText } from './parts';
import { CompareFields } from './verify';

export function TestsField(props: {
  trans: TranslationBundle;
  tests: ITestForm[];
  /** The points of all tests, as the form now says. */
  maxScore: number;
  onChange: (tests: ITestForm[]) => void;
  problem: (field: string) => string | undefined;
}): JSX.Element {
  const { trans, tests, onChange, problem } = props;
  return (
    <ListEditor
      className="muscode-Editor-tests"
      legend={trans.__(
        'Tests (%1, %2 in all)',
        trans._n('%1 test', '%1 tests', tests.length, String(tests.length)),
        pointsText(trans, props.maxScore)
      )}
      empty={trans.__('No tests yet: a submission scores 0 of 0.')}
      items={tests}
      onChange={onChange}
      itemClassName="muscode-Editor-test"
      removeClassName="muscode-Editor-removeTest"
      removeLabel={(t, i) => trans.__('Remove test %1', t.name || String(i + 1))}
      addClassName="muscode-Editor-addTest"
      addLabel={trans.__('Add a test')}
      onAdd={() => onChange([...tests, emptyTest(tests.length + 1)])}
    >
      {(t, update, i) => (
        <>
          <div className="muscode-Editor-row">
            <TextField
              label={trans.__('Test name')}
              problem={problem(`tests[${i}].name`)}
              className="muscode-Editor-testName"
              value={t.name}
              onValue={name => update({ name })}
            >
              {c => <input {...c} type="text" maxLength={255} />}
            </TextField>
            <TextField
              label={trans.__('Points')}
              problem={problem(`tests[${i}].points`)}
              className="muscode-Editor-testPoints"
              value={t.points}
              onValue={points => update({ points })}
            >
              {c => <input {...c} type="number" min={0} step="any" />}
            </TextField>
            <label className="muscode-Check-label">
              <input
                type="checkbox"
                className="muscode-Editor-testHidden"
                checked={t.hidden}
                onChange={e => update({ hidden: e.currentTarget.checked })}
              />
              {trans.__('Hidden (students see pass/fail only)')}
            </label>
          </div>
          <div className="muscode-Editor-row">
            <TextField
              label={trans.__('Input (stdin)')}
              problem={problem(`tests[${i}].stdin`)}
              className="muscode-Editor-testStdin muscode-Code"
              value={t.stdin}
              onValue={stdin => update({ stdin })}
            >
              {c => <textarea {...c} rows={3} spellCheck={false} />}
            </TextField>
            <TextField
              label={trans.__('Expected output')}
              problem={problem(`tests[${i}].expected_output`)}
              className="muscode-Editor-testExpected muscode-Code"
              value={t.expected_output}
              onValue={expected_output => update({ expected_output })}
            >
              {c => <textarea {...c} rows={3} spellCheck={false} />}
            </TextField>
          </div>
          <CompareFields trans={trans} test={t} update={update} problem={problem} index={i} />
        </>
      )}
    </ListEditor>
  );
}
