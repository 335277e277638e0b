/**
 * A student's assignment: its description and facts, Start, Check, Submit, and the
 * results and score of each attempt.
 */
import { refreshIcon } from '@jupyterlab/ui-components';
import * as React from 'react';

import { follow } from '../events/follow';
import type { Assignment, EventNotice, Execution, Submission } from '../types';
import { confirm } from '../ui/dialogs';
import { useSignal } from '../ui/react';
import type { IAssignmentContext } from './context';
import { fetchWithSubmissions, useResource, useSubmissionNotices } from './hooks';
import { isPastDue, scoreText, studentStatus, visibleTests } from './model';
import { checkableNotebooks, testsFact } from './nbmodel';
import {
  dueText,
  ErrorBox,
  formatWhen,
  lateText,
  latePolicyText,
  Markdown,
  Note,
  statusLabel,
  TableHead
} from './parts';
import { myProgress } from './progress';
import { CheckResults, SubmissionSummary } from './results';

/** What a student's view loads: the assignment, and my submissions (newest first). */
interface IMine {
  assignment: Assignment;
  submissions: Submission[];
}

const NO_SUBMISSIONS: Submission[] = [];

export function StudentAssignment(props: {
  ctx: IAssignmentContext;
  assignmentId: string;
}): JSX.Element {
  const { ctx, assignmentId } = props;
  const { trans } = ctx;
  const mine = useResource<IMine>(async () => {
    const [assignment, submissions] = await fetchWithSubmissions(ctx.client(), assignmentId);
    return { assignment, submissions };
  }, [assignmentId]);
  const { reload, alive, busy, act, setNote } = mine;
  const [run, setRun] = React.useState<Execution | null>(null);
  // of several notebooks: the one to check (chosen) and the one the shown run checked
  const [toCheck, setToCheck] = React.useState('');
  const [checked, setChecked] = React.useState('');
  const following = React.useRef(new Set<string>());
  const classId = React.useRef<string | null>(null);
  const assignment = mine.value?.assignment ?? null;
  const submissions = mine.value?.submissions ?? NO_SUBMISSIONS;
  if (assignment) {
    classId.current = assignment.class_id;
  }

  /** Wait for a submission's grade: notices while the feed is live, else polling. */
  const watch = React.useCallback(
    (submissionId: string) => {
      if (following.current.has(submissionId)) {
        return;
      }
      following.current.add(submissionId);
      void follow<Submission>({
        feed: ctx.feed,
        matches: n => n.type === 'submission' && n.id === submissionId,
        fetch: () => ctx.client().getSubmission(submissionId),
        done: s => s.status === 'graded' || !alive.current,
        pollInterval: ctx.pollInterval
      })
        .then(async graded => {
          following.current.delete(submissionId);
          if (graded && alive.current) {
            if (classId.current) {
              ctx.changed.emit(classId.current);
            }
            await reload();
            setNote(
              trans.__(
                'Attempt %1 is graded: %2.',
                String(graded.attempt),
                scoreText(graded.score, graded.max_score) || '–'
              )
            );
          }
        })
        .catch(err => {
          following.current.delete(submissionId);
          mine.fail(err);
        });
    },
    [reload]
  );

  // Grades that change elsewhere (a regrade, an override) come as notices too.
  useSubmissionNotices(ctx.feed, assignmentId, reload);
  useSignal(ctx.feed.notice, (notice: EventNotice) => {
    if (notice.type === 'regrade' && notice.assignment_id === assignmentId) {
      void reload();
    }
  });

  React.useEffect(() => {
    for (const s of submissions) {
      if (s.status === 'grading') {
        watch(s.id);
      }
    }
  }, [submissions, watch]);

  if (!assignment) {
    return (
      <div className="muscode-Assignment-view">
        <ErrorBox message={mine.error} />
        {!mine.error && <p className="muscode-Empty">{trans.__('Loading…')}</p>}
      </div>
    );
  }
  const a = assignment;
  const status = studentStatus(a);
  // The status line, best score and attempts come from the same submissions as the
  // latest attempt's score below, so that an override or a regrade changes them all.
  const progress = myProgress(a, submissions);
  const left =
    a.max_attempts === null || a.max_attempts === undefined
      ? null
      : Math.max(0, a.max_attempts - progress.attempts);
  const pastDue = isPastDue(a);
  const visible = visibleTests(a);
  // a problem set of several notebooks: Check runs the one chosen
  const notebooks = a.format === 'nbgrader' ? checkableNotebooks(a) : [];
  const chosen = notebooks.includes(toCheck) ? toCheck : (notebooks[0] ?? '');
  // a notebook assignment's tests are its graded cells
  const facts = testsFact(trans, a);
  const latest = progress.latest;
  const bestText = progress.best
    ? scoreText(progress.best.score, progress.best.max_score)
    : submissions.length
      ? ''
      : scoreText(a.my.best_score, a.max_score);
  const statusText = progress.grading
    ? trans.__('Grading…')
    : latest && latest.status === 'graded' && latest.score !== null
      ? trans.__('Graded: %1', scoreText(latest.score, latest.max_score))
      : statusLabel(trans, status);
  const grading = submissions.some(s => s.status === 'grading');
  const language = ctx.catalog().byId(a.language)?.name ?? a.language;
  /** The assignment as it is now, with my progress changed. */
  const setMy = (my: Partial<Assignment['my']>) =>
    mine.setValue(v => v && { ...v, assignment: { ...a, my: { ...a.my, ...my } } });

  const ensureProject = async (): Promise<string> => {
    if (a.my.project_id) {
      return a.my.project_id;
    }
    const project = await ctx.client().startAssignment(a.id);
    setMy({ project_id: project.id });
    return project.id;
  };

  const start = () =>
    act(
      async () => {
        const project = await ctx.client().startAssignment(a.id);
        setMy({ project_id: project.id });
        ctx.changed.emit(a.class_id);
        await ctx.openProject(project);
        setNote(trans.__('Your project "%1" is open in the MUSCode panel\'s files.', project.name));
      },
      { busy: 'start' }
    );

  const check = () =>
    act(
      async () => {
        const projectId = await ensureProject();
        // Check runs the saved files: save what the student typed first.
        await ctx.saveProject?.(projectId);
        const client = ctx.client();
        setRun(null);
        const notebook = notebooks.length > 1 ? chosen : '';
        const reply = await client.checkAssignment(a.id, projectId, { wait: true, notebook });
        let result: Execution | null = reply.body;
        if (result.status !== 'done') {
          const id = result.id;
          result = await follow<Execution>({
            feed: ctx.feed,
            matches: n => n.type === 'execution' && n.id === id,
            fetch: () => client.getExecution(id),
            done: r => r.status === 'done',
            pollInterval: ctx.pollInterval ?? 1000,
            timeout: 10 * 60 * 1000
          });
        }
        if (result && alive.current) {
          setRun(result);
          setChecked(notebook);
        }
      },
      { busy: 'check' }
    );

  const submit = () =>
    act(
      async () => {
        const body =
          left === null
            ? trans.__(
                'Submit your project? Your open files are saved first; it is graded against every test.'
              )
            : trans._n(
                'Submit your project? Your open files are saved first; it is graded against every test. You have %1 attempt left.',
                'Submit your project? Your open files are saved first; it is graded against every test. You have %1 attempts left.',
                left,
                String(left)
              );
        const ok = await confirm(trans, trans.__('Submit "%1"', a.title), body, trans.__('Submit'));
        if (!ok) {
          return;
        }
        const projectId = await ensureProject();
        // A submission is what is saved: save what the student typed first, and
        // spend no attempt when that fails.
        await ctx.saveProject?.(projectId);
        const submission = await ctx.client().submit(a.id, projectId);
        mine.setValue(v => ({
          assignment: {
            ...a,
            my: {
              ...a.my,
              project_id: projectId,
              attempts: Math.max(a.my.attempts, submission.attempt)
            }
          },
          submissions: [submission, ...(v?.submissions ?? []).filter(s => s.id !== submission.id)]
        }));
        setNote(trans.__('Submitted: attempt %1 is being graded.', String(submission.attempt)));
        ctx.changed.emit(a.class_id);
        if (submission.status === 'grading') {
          watch(submission.id);
        } else {
          await reload();
        }
      },
      { busy: 'submit' }
    );

  return (
    <div className="muscode-Assignment-view" data-assignment={a.title} data-status={status}>
      <header className="muscode-View-header">
        <h2>{a.title}</h2>
        <div className="muscode-Assignment-facts">
          <span className="muscode-Badge muscode-Assignment-status" role="status">
            {statusText}
          </span>
          <span className="muscode-Badge">{language}</span>
          <span className={pastDue ? 'muscode-mod-late' : ''}>{dueText(trans, a.due_at)}</span>
          {pastDue && (
            <span className="muscode-Badge muscode-mod-late">{trans.__('past due')}</span>
          )}
        </div>
        <dl className="muscode-Facts">
          <div>
            <dt>{trans.__('Best score')}</dt>
            <dd className="muscode-Assignment-best">{bestText || trans.__('none yet')}</dd>
          </div>
          <div>
            <dt>{trans.__('Attempts')}</dt>
            <dd className="muscode-Assignment-attempts">
              {left === null
                ? trans.__('%1 (no limit)', String(progress.attempts))
                : trans.__(
                    '%1 of %2 (%3 left)',
                    String(progress.attempts),
                    String(a.max_attempts),
                    String(left)
                  )}
            </dd>
          </div>
          <div>
            <dt>{facts.term}</dt>
            <dd className="muscode-Assignment-tests">{facts.text}</dd>
          </div>
        </dl>
        {a.due_at && <p className="muscode-Assignment-latePolicy">{latePolicyText(trans, a)}</p>}
      </header>
      <Markdown
        source={a.description || trans.__('No description.')}
        rendermime={ctx.rendermime}
        label={trans.__('Description')}
      />
      <div className="muscode-Actions" role="toolbar" aria-label={trans.__('Assignment actions')}>
        <button
          type="button"
          className="jp-mod-styled muscode-Assignment-start"
          disabled={busy !== null}
          onClick={() => void start()}
        >
          {a.my.project_id ? trans.__('Open my project') : trans.__('Start')}
        </button>
        {notebooks.length > 1 && (
          <label className="muscode-Assignment-checkNotebook">
            {trans.__('Notebook to check')}{' '}
            <select
              value={chosen}
              disabled={busy !== null}
              onChange={e => setToCheck(e.currentTarget.value)}
            >
              {notebooks.map(path => (
                <option key={path} value={path}>
                  {path}
                </option>
              ))}
            </select>
          </label>
        )}
        <button
          type="button"
          className="jp-mod-styled muscode-Assignment-check"
          disabled={
            busy !== null || !a.my.project_id || !visible.length || !ctx.capabilities().check
          }
          title={
            !a.my.project_id
              ? trans.__('Start the assignment first')
              : trans.__(
                  'Run the visible tests on your project, its open files saved first (not a submission)'
                )
          }
          onClick={() => void check()}
        >
          {busy === 'check' ? trans.__('Checking…') : trans.__('Check')}
        </button>
        <button
          type="button"
          className="jp-mod-styled jp-mod-accept muscode-Assignment-submit"
          disabled={busy !== null || !a.my.project_id || left === 0 || grading}
          title={
            left === 0
              ? trans.__('You have used all your attempts')
              : grading
                ? trans.__('Wait until your last submission is graded')
                : trans.__('Save your open files and submit your project for grading')
          }
          onClick={() => void submit()}
        >
          {busy === 'submit' ? trans.__('Submitting…') : trans.__('Submit')}
        </button>
        <button
          type="button"
          className="jp-mod-styled muscode-Assignment-refresh"
          aria-label={trans.__('Refresh')}
          title={trans.__('Refresh')}
          onClick={() => {
            // A grade changed by staff sends no notice: Refresh reads it anew here and
            // in the class list, and drops the note of what happened before.
            setNote('');
            if (classId.current) {
              ctx.changed.emit(classId.current);
            }
            void reload();
          }}
        >
          <refreshIcon.react tag="span" elementSize="normal" />
        </button>
      </div>
      <Note text={mine.note} />
      <ErrorBox message={mine.error} />
      {run && <CheckResults trans={trans} run={run} assignment={a} notebook={checked} />}
      {latest && (
        <section className="muscode-Submissions-mine" aria-label={trans.__('My submissions')}>
          <h3>{trans.__('Latest submission')}</h3>
          <SubmissionSummary trans={trans} submission={latest} asStudent={true} />
          {submissions.length > 1 && (
            <details className="muscode-History">
              <summary>{trans.__('Earlier attempts (%1)', String(submissions.length - 1))}</summary>
              <table className="muscode-Table">
                <TableHead
                  columns={[
                    trans.__('Attempt'),
                    trans.__('Submitted'),
                    trans.__('Score'),
                    trans.__('Late')
                  ]}
                />
                <tbody>
                  {submissions.slice(1).map(s => (
                    <tr key={s.id}>
                      <td>{s.attempt}</td>
                      <td>{formatWhen(s.submitted_at)}</td>
                      <td>{scoreText(s.score, s.max_score) || '–'}</td>
                      <td>{s.late ? lateText(trans, s) : trans.__('no')}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </details>
          )}
        </section>
      )}
    </div>
  );
}
