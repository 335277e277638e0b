/**
 * The assignment editor (staff): its settings (settingsfields.tsx), starter files and
 * reference solution (filesfield.tsx), tests (testsfield.tsx) or a notebook
 * assignment's source notebooks (notebook.tsx); saving, the check of the tests against
 * the reference, the regrade offered after the tests changed, deleting, and
 * per-student extensions; each field's problem named.
 */
import * as React from 'react';

import { describeError, MuscodeAPIError } from '../request';
import type { Assignment, ClassRole, Class, Verification } from '../types';
import { confirm } from '../ui/dialogs';
import type { IAssignmentContext } from './context';
import { ExtensionsSection } from './extensions';
import { problemFor } from './fields';
import { FilesField } from './filesfield';
import { useResource } from './hooks';
import {
  bodyOf,
  canDelete,
  emptyForm,
  formMaxScore,
  formOf,
  IAssignmentForm,
  IFieldProblem
} from './model';
import { NotebookSource } from './notebook';
import { ErrorBox, Note } from './parts';
import { SettingsFields } from './settingsfields';
import { TestsField } from './testsfield';
import { RegradeOffer, unverified, VerificationResult } from './verify';

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
        <SettingsFields
          trans={trans}
          form={form}
          languages={languages}
          set={set}
          problem={problem}
        />
        <NotebookSource
          trans={trans}
          form={form}
          saved={loaded}
          onChange={patch => setForm(f => ({ ...f, ...patch }))}
        />

        <FilesField
          trans={trans}
          kind="starter"
          files={form.starterFiles}
          onChange={files => set('starterFiles', files)}
          problem={problem}
          newPath={() => {
            const ext = ctx.catalog().byId(form.language)?.extensions[0] ?? '.txt';
            const name = form.language === 'java' ? `Main${ext}` : `main${ext}`;
            return form.starterFiles.some(f => f.path === name) ? '' : name;
          }}
        />

        {form.format !== 'nbgrader' && (
          <>
            <TestsField
              trans={trans}
              tests={form.tests}
              maxScore={formMaxScore(form)}
              onChange={tests => set('tests', tests)}
              problem={problem}
            />
            <FilesField
              trans={trans}
              kind="reference"
              files={form.referenceFiles}
              onChange={files => set('referenceFiles', files)}
              problem={problem}
              newPath={() => {
                const first = form.starterFiles[0]?.path;
                return first && !form.referenceFiles.some(f => f.path === first) ? first : '';
              }}
            />
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
