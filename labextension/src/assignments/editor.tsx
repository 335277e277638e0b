/**
 * The assignment editor (staff): title, description, language, due date and late
 * policy, attempts, starter files, tests with their output comparison, the reference
 * solution and the check of the tests against it (or a notebook assignment's source
 * notebook, see notebook.tsx), the regrade offered after the tests
 * changed, and per-student extensions; each field's problem named.
 */
import * as React from 'react';

import { describeError, MuscodeAPIError } from '../request';
import type { Assignment, ClassRole, Class, LateMode, Verification } from '../types';
import { confirm } from '../ui/dialogs';
import type { IAssignmentContext } from './context';
import { ListEditor, problemFor, TextField } from './fields';
import { useResource } from './hooks';
import {
  bodyOf,
  canDelete,
  emptyForm,
  emptyTest,
  formMaxScore,
  formOf,
  IAssignmentForm,
  IFieldProblem
} from './model';
import { ErrorBox, Note, pointsText } from './parts';
import { ExtensionsSection } from './extensions';
import { NotebookSource } from './notebook';
import { CompareFields, RegradeOffer, unverified, VerificationResult } from './verify';

export function AssignmentEditor(props: {
  ctx: IAssignmentContext;
  klass: Class;
  assignmentId: string | null;
  /** Called with the title as saved (the tab follows it). */
  onSaved?: (title: string) => void;
}): JSX.Element {
  const { ctx, klass } = props;
  const { trans } = ctx;
  const [assignmentId, setAssignmentId] = React.useState(props.assignmentId);
  const available = ctx.catalog().available;
  const [form, setForm] = React.useState<IAssignmentForm>(() =>
    emptyForm(available.find(l => l.id === 'python')?.id ?? available[0]?.id ?? '')
  );
  const [problems, setProblems] = React.useState<IFieldProblem[]>([]);
  const [verification, setVerification] = React.useState<Verification | null>(null);
  // the assignment as the server has it (none for a new one)
  const saved = useResource<Assignment | null>(
    async () => (props.assignmentId ? ctx.client().getAssignment(props.assignmentId) : null),
    [props.assignmentId],
    a => {
      if (a) {
        setForm(formOf(a));
        if (a.verification) {
          // the latest check of the tests, with its per-test results
          ctx
            .client()
            .getVerification(a.id)
            .then(v => saved.alive.current && setVerification(v))
            .catch(() => undefined);
        }
      }
    }
  );
  const { value: loaded, setValue: setLoaded, setError, setNote } = saved;
  const role: ClassRole | null = loaded?.role ?? klass.role;
  const mayDelete = canDelete(role, ctx.me());

  const set = <K extends keyof IAssignmentForm>(key: K, value: IAssignmentForm[K]) =>
    setForm(f => ({ ...f, [key]: value }));
  const problem = (field: string) => problemFor(problems, field);

  const languages = [...available];
  if (form.language && !languages.some(l => l.id === form.language)) {
    const missing = ctx.catalog().byId(form.language);
    languages.push({
      id: form.language,
      name: trans.__('%1 (not available now)', missing?.name ?? form.language),
      version: null,
      extensions: [],
      compiled: false,
      available: false
    });
  }

  /**
   * Save the form; resolves with the saved assignment, or null (problems shown).
   * `keepPublished`: save all but the published state (the form keeps its choice),
   * as the check of the tests does: checking never publishes.
   */
  const save = async (options: { keepPublished?: boolean } = {}): Promise<Assignment | null> => {
    const result = bodyOf(form, {
      required: trans.__('Required.'),
      number: trans.__('A number of points, 0 or more.'),
      wholeAtLeastOne: trans.__('A whole number, 1 or more (or empty for no limit).'),
      percent: trans.__('A percentage from 0 to 100.'),
      duplicate: trans.__('Already used above.'),
      date: trans.__('Not a date.'),
      tolerance: trans.__('A number, 0 or more (or empty for 1e-6).')
    });
    if (!result.ok) {
      setProblems(result.problems);
      setError(trans.__('Some fields need a fix (marked below).'));
      return null;
    }
    const wantPublished = form.published;
    if (options.keepPublished) {
      result.body.published = loaded?.published ?? false;
    }
    const publishing = result.body.published === true && !loaded?.published;
    // a notebook's source holds its solutions: nbgrader's checks ran when it was read
    const checkable = form.format !== 'nbgrader';
    if (publishing && checkable && (unverified(loaded) || !loaded)) {
      // The tests were not seen to pass on the reference solution: a mistake in
      // them would grade every student wrong.
      const ok = await confirm(
        trans,
        trans.__('Publish without a check?'),
        result.body.reference_files?.length
          ? trans.__(
              'The tests have not passed on the reference solution yet. Use "Check tests against the reference" first, or publish anyway?'
            )
          : trans.__('There is no reference solution to check the tests against. Publish anyway?'),
        trans.__('Publish anyway')
      );
      if (!ok) {
        return null;
      }
    }
    const stale = loaded?.grading?.stale ?? 0;
    let done: Assignment | null = null;
    await saved.act(
      async () => {
        const client = ctx.client();
        const a = assignmentId
          ? await client.updateAssignment(assignmentId, result.body)
          : await client.createAssignment(klass.id, result.body);
        setAssignmentId(a.id);
        setLoaded(a);
        setForm(options.keepPublished ? { ...formOf(a), published: wantPublished } : formOf(a));
        setProblems([]);
        done = a;
        props.onSaved?.(a.title);
        setNote(
          a.published
            ? trans.__('Saved and published: students see "%1".', a.title)
            : trans.__('Saved as a draft: students do not see "%1" yet.', a.title)
        );
        ctx.changed.emit(klass.id);
      },
      {
        failed: err => {
          if (err instanceof MuscodeAPIError && err.errors.length) {
            setProblems(err.errors.map(e => ({ field: e.field, message: e.message })));
          }
          return describeError(err);
        }
      }
    );
    const after = done as Assignment | null;
    if (after && after.regrade_suggested && (after.grading?.stale ?? 0) > stale) {
      // this save changed what the submissions were graded against
      const n = after.grading?.stale ?? 0;
      const ok = await confirm(
        trans,
        trans.__('Regrade "%1"?', after.title),
        trans._n(
          'The tests changed: %1 submission was graded against the old ones. Grade it again now? Overrides stay.',
          'The tests changed: %1 submissions were graded against the old ones. Grade them again now? Overrides stay.',
          n,
          String(n)
        ),
        trans.__('Regrade')
      );
      if (ok) {
        await regrade(after);
      }
    }
    return after;
  };

  const regrade = (a: Assignment) =>
    saved.act(async () => {
      const progress = await ctx.client().regrade(a.id);
      setLoaded({ ...a, regrade_suggested: false, grading: progress });
      setNote(
        trans._n(
          'Regrading %1 submission: Submissions shows its progress.',
          'Regrading %1 submissions: Submissions shows their progress.',
          progress.total,
          String(progress.total)
        )
      );
    });

  /** Save, then run every test on the reference solution and show the result. */
  const verify = async () => {
    const a = await save({ keepPublished: true });
    if (!a) {
      return;
    }
    if (!a.reference_files?.length) {
      setError(trans.__('Add the reference solution first (below the tests), then check.'));
      return;
    }
    await saved.act(
      async () => {
        setVerification(null);
        const v = await ctx.client().verifyAssignment(a.id, { wait: true });
        // the result and the assignment's `verification` of the same moment
        const fresh = await ctx.client().getAssignment(a.id);
        setVerification(v);
        setLoaded(fresh);
      },
      { busy: 'verify' }
    );
  };

  const remove = async () => {
    if (!assignmentId || !loaded) {
      return;
    }
    const ok = await confirm(
      trans,
      trans.__('Delete assignment'),
      trans.__('Delete "%1"? Students no longer see it.', loaded.title),
      trans.__('Delete')
    );
    if (!ok) {
      return;
    }
    try {
      await ctx.client().deleteAssignment(assignmentId);
      ctx.changed.emit(klass.id);
      setNote(trans.__('Deleted "%1".', loaded.title));
      setLoaded(null);
      setAssignmentId(null);
    } catch (err) {
      saved.fail(err);
    }
  };

  return (
    <>
      <form
        className="muscode-Editor"
        aria-label={trans.__('Assignment editor')}
        // the form's own checks name each field in words; the browser's would only
        // show a tooltip on the first
        noValidate
        onSubmit={e => {
          e.preventDefault();
          void save();
        }}
      >
        <header className="muscode-View-header">
          <h2>
            {assignmentId
              ? trans.__('Edit "%1"', loaded?.title ?? form.title)
              : trans.__('New assignment in %1', klass.name)}
          </h2>
        </header>
        <ErrorBox message={saved.error} />
        <Note text={saved.note} />
        <TextField
          label={trans.__('Title')}
          problem={problem('title')}
          className="muscode-Editor-title"
          value={form.title}
          onValue={v => set('title', v)}
        >
          {c => <input {...c} type="text" maxLength={255} required />}
        </TextField>
        <TextField
          label={trans.__('Description (Markdown)')}
          problem={problem('description')}
          className="muscode-Editor-description"
          value={form.description}
          onValue={v => set('description', v)}
        >
          {c => <textarea {...c} rows={6} />}
        </TextField>
        <div className="muscode-Editor-row">
          <TextField
            label={trans.__('Language')}
            problem={problem('language')}
            className="muscode-Editor-language"
            value={form.language}
            onValue={v => set('language', v)}
          >
            {c => (
              <select {...c}>
                {languages.map(l => (
                  <option key={l.id} value={l.id}>
                    {l.version ? `${l.name} (${l.version})` : l.name}
                  </option>
                ))}
              </select>
            )}
          </TextField>
          <TextField
            label={trans.__('Due (your local time; empty: none)')}
            problem={problem('due_at')}
            className="muscode-Editor-due"
            value={form.due}
            onValue={v => set('due', v)}
          >
            {c => <input {...c} type="datetime-local" />}
          </TextField>
          <TextField
            label={trans.__('Max attempts (empty: no limit)')}
            problem={problem('max_attempts')}
            className="muscode-Editor-maxAttempts"
            value={form.maxAttempts}
            onValue={v => set('maxAttempts', v)}
          >
            {c => <input {...c} type="number" min={1} step={1} />}
          </TextField>
        </div>
        <div className="muscode-Editor-row">
          <TextField
            label={trans.__('Late submissions')}
            problem={problem('late_policy')}
            className="muscode-Editor-lateMode"
            value={form.lateMode}
            onValue={v => set('lateMode', v as LateMode)}
          >
            {c => (
              <select {...c}>
                <option value="accept">{trans.__('Accept, marked late')}</option>
                <option value="penalty">{trans.__('Penalty per day late')}</option>
                <option value="no_credit">{trans.__('No credit')}</option>
              </select>
            )}
          </TextField>
          {form.lateMode === 'penalty' && (
            <TextField
              label={trans.__('Penalty per day (%)')}
              problem={problem('late_policy.penalty_per_day')}
              className="muscode-Editor-penalty"
              value={form.penaltyPerDay}
              onValue={v => set('penaltyPerDay', v)}
            >
              {c => <input {...c} type="number" min={0} max={100} step="any" />}
            </TextField>
          )}
          <label className="muscode-Check-label muscode-Editor-published">
            <input
              type="checkbox"
              checked={form.published}
              onChange={e => set('published', e.currentTarget.checked)}
            />
            {trans.__('Published (students see it)')}
          </label>
        </div>
        <NotebookSource
          trans={trans}
          form={form}
          saved={loaded}
          onChange={patch => setForm(f => ({ ...f, ...patch }))}
        />

        <ListEditor
          className="muscode-Editor-files"
          legend={trans.__('Starter files')}
          empty={trans.__('None: students start with an empty project.')}
          items={form.starterFiles}
          onChange={files => set('starterFiles', files)}
          removeClassName="muscode-Editor-removeFile"
          removeLabel={(f, i) => trans.__('Remove file %1', f.path || String(i + 1))}
          addClassName="muscode-Editor-addFile"
          addLabel={trans.__('Add a starter file')}
          onAdd={() => {
            const ext = ctx.catalog().byId(form.language)?.extensions[0] ?? '.txt';
            const name = form.language === 'java' ? `Main${ext}` : `main${ext}`;
            const taken = form.starterFiles.some(f => f.path === name);
            set('starterFiles', [...form.starterFiles, { path: taken ? '' : name, content: '' }]);
          }}
        >
          {(f, update, i) => (
            <>
              <TextField
                label={trans.__('Path')}
                problem={problem(`starter_files[${i}].path`)}
                className="muscode-Editor-filePath"
                value={f.path}
                onValue={path => update({ path })}
              >
                {c => <input {...c} type="text" />}
              </TextField>
              <TextField
                label={trans.__('Content')}
                problem={problem(`starter_files[${i}].content`)}
                className="muscode-Editor-fileContent muscode-Code"
                value={f.content}
                onValue={content => update({ content })}
              >
                {c => <textarea {...c} rows={5} spellCheck={false} />}
              </TextField>
            </>
          )}
        </ListEditor>

        {form.format !== 'nbgrader' && (
          <>
            <ListEditor
              className="muscode-Editor-tests"
              legend={trans.__(
                'Tests (%1, %2 in all)',
                trans._n('%1 test', '%1 tests', form.tests.length, String(form.tests.length)),
                pointsText(trans, formMaxScore(form))
              )}
              empty={trans.__('No tests yet: a submission scores 0 of 0.')}
              items={form.tests}
              onChange={tests => set('tests', tests)}
              itemClassName="muscode-Editor-test"
              removeClassName="muscode-Editor-removeTest"
              removeLabel={(t, i) => trans.__('Remove test %1', t.name || String(i + 1))}
              addClassName="muscode-Editor-addTest"
              addLabel={trans.__('Add a test')}
              onAdd={() => set('tests', [...form.tests, emptyTest(form.tests.length + 1)])}
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
                  <CompareFields
                    trans={trans}
                    test={t}
                    update={update}
                    problem={problem}
                    index={i}
                  />
                </>
              )}
            </ListEditor>

            <ListEditor
              className="muscode-Editor-reference"
              legend={trans.__('Reference solution (staff only; students never see it)')}
              empty={trans.__('None: add the files of a solution to check the tests against.')}
              items={form.referenceFiles}
              onChange={files => set('referenceFiles', files)}
              removeClassName="muscode-Editor-removeReference"
              removeLabel={(f, i) => trans.__('Remove reference file %1', f.path || String(i + 1))}
              addClassName="muscode-Editor-addReference"
              addLabel={trans.__('Add a reference file')}
              onAdd={() => {
                const first = form.starterFiles[0]?.path;
                const taken = form.referenceFiles.some(f => f.path === first);
                set('referenceFiles', [
                  ...form.referenceFiles,
                  { path: first && !taken ? first : '', content: '' }
                ]);
              }}
            >
              {(f, update, i) => (
                <>
                  <TextField
                    label={trans.__('Reference path')}
                    problem={problem(`reference_files[${i}].path`)}
                    className="muscode-Editor-referencePath"
                    value={f.path}
                    onValue={path => update({ path })}
                  >
                    {c => <input {...c} type="text" />}
                  </TextField>
                  <TextField
                    label={trans.__('Reference content')}
                    problem={problem(`reference_files[${i}].content`)}
                    className="muscode-Editor-referenceContent muscode-Code"
                    value={f.content}
                    onValue={content => update({ content })}
                  >
                    {c => <textarea {...c} rows={5} spellCheck={false} />}
                  </TextField>
                </>
              )}
            </ListEditor>
          </>
        )}
        {verification && <VerificationResult trans={trans} verification={verification} />}
        {loaded && (
          <RegradeOffer
            trans={trans}
            assignment={loaded}
            busy={saved.busy !== null}
            onRegrade={() => void regrade(loaded)}
          />
        )}

        <div className="muscode-Actions">
          <button
            type="submit"
            className="jp-mod-styled jp-mod-accept muscode-Editor-save"
            disabled={saved.busy !== null}
          >
            {assignmentId ? trans.__('Save') : trans.__('Create')}
          </button>
          {form.format !== 'nbgrader' && (
            <button
              type="button"
              className="jp-mod-styled muscode-Editor-verify"
              disabled={saved.busy !== null || !form.referenceFiles.length}
              title={
                form.referenceFiles.length
                  ? trans.__('Save, then run every test on the reference solution')
                  : trans.__('Add a reference solution first')
              }
              onClick={() => void verify()}
            >
              {saved.busy === 'verify'
                ? trans.__('Checking…')
                : trans.__('Check tests against the reference')}
            </button>
          )}
          {assignmentId && loaded && (
            <button
              type="button"
              className="jp-mod-styled muscode-Editor-submissions"
              onClick={() =>
                ctx.open({
                  kind: 'submissions',
                  klass,
                  assignmentId,
                  title: loaded.title
                })
              }
            >
              {trans.__('Submissions')}
            </button>
          )}
          {assignmentId && mayDelete && (
            <button
              type="button"
              className="jp-mod-styled jp-mod-warn muscode-Editor-delete"
              disabled={saved.busy !== null}
              onClick={() => void remove()}
            >
              {trans.__('Delete')}
            </button>
          )}
        </div>
      </form>
      {assignmentId && (
        <ExtensionsSection ctx={ctx} classId={klass.id} assignmentId={assignmentId} />
      )}
    </>
  );
}
