/**
 * The submissions of an assignment (staff): one row per student or per attempt (and
 * one for each student who has not submitted), each attempt's tests, score overrides,
 * the graded snapshot read-only (and the student's project as it is now), the grades
 * as CSV, and regrading with its progress (the rows follow it).
 */
import * as React from 'react';

import { follow } from '../events/follow';
import type { Assignment, Class, GradingProgress, MissingSubmission, Submission } from '../types';
import { confirm } from '../ui/dialogs';
import type { IAssignmentContext } from './context';
import { fetchWithSubmissions, useResource, useSubmissionNotices } from './hooks';
import {
  byStudent,
  csvFileName,
  formatPoints,
  IProgress,
  passedText,
  plural,
  progressOf,
  scoreText
} from './model';
import { ManualGrading } from './notebook';
import { askOverride } from './override';
import {
  downloadText,
  dueText,
  ErrorBox,
  formatWhen,
  lateText,
  Note,
  pointsText,
  ProgressBar,
  TableHead
} from './parts';
import { SubmissionSummary } from './results';

/** What the submissions view loads: the assignment and every submission of it. */
interface IAll {
  assignment: Assignment;
  submissions: Submission[];
  /** The class's students without a submission. */
  missing: MissingSubmission[];
}

export function SubmissionsView(props: {
  ctx: IAssignmentContext;
  klass: Class;
  assignmentId: string;
  /** Called with the assignment's title whenever it loads (the tab follows it). */
  onTitle?: (title: string) => void;
}): JSX.Element {
  const { ctx, klass, assignmentId } = props;
  const { trans } = ctx;
  const [open, setOpen] = React.useState<string | null>(null);
  const [allAttempts, setAllAttempts] = React.useState(false);
  const [regrade, setRegrade] = React.useState<IProgress | null>(null);
  const regrading = React.useRef(false);
  const all = useResource<IAll>(
    async () => {
      const [[assignment, submissions], missing] = await Promise.all([
        fetchWithSubmissions(ctx.client(), assignmentId),
        ctx
          .client()
          .listMissing(assignmentId)
          .catch(() => [] as MissingSubmission[])
      ]);
      props.onTitle?.(assignment.title);
      return { assignment, submissions, missing };
    },
    [assignmentId],
    ({ assignment: a }) => {
      // a regrade started elsewhere (or before this view opened) is still going
      if (a.grading && a.grading.pending > 0) {
        followRegrade(a.grading);
      }
    }
  );
  const { reload, alive, fail, setNote } = all;
  const assignment = all.value?.assignment ?? null;
  const submissions = all.value?.submissions ?? null;
  const missing = all.value?.missing ?? [];

  /** Follow a regrade to its end: `regrade` notices, or `grading` by polling. */
  const followRegrade = React.useCallback(
    (first: GradingProgress) => {
      if (regrading.current) {
        return;
      }
      regrading.current = true;
      setRegrade(progressOf(first));
      void follow<GradingProgress>({
        feed: ctx.feed,
        matches: n => n.type === 'regrade' && n.assignment_id === assignmentId,
        onNotice: n => {
          if (n.type === 'regrade' && alive.current) {
            setRegrade(progressOf(n));
            // rows and maxima of the same moment: never new maxima beside old scores
            void reload();
          }
        },
        fetch: async () => {
          const a = await ctx.client().getAssignment(assignmentId);
          return a.grading ?? { total: first.total, pending: 0, stale: 0 };
        },
        onUpdate: p => alive.current && setRegrade(progressOf(p)),
        done: p => p.pending <= 0 || !alive.current,
        pollInterval: ctx.pollInterval
      })
        .then(async final => {
          regrading.current = false;
          if (final && alive.current) {
            setRegrade(progressOf(final));
            await reload();
          }
        })
        .catch(err => {
          regrading.current = false;
          fail(err);
        });
    },
    [assignmentId, reload]
  );

  useSubmissionNotices(ctx.feed, assignmentId, reload);

  const startRegrade = async () => {
    const ok = await confirm(
      trans,
      trans.__('Regrade "%1"', assignment?.title ?? ''),
      trans.__('Grade every submission again with the current tests? Overrides stay.'),
      trans.__('Regrade')
    );
    if (!ok) {
      return;
    }
    try {
      setNote('');
      const progress = await ctx.client().regrade(assignmentId);
      followRegrade(progress);
      await reload();
    } catch (err) {
      fail(err);
    }
  };

  const download = async () => {
    try {
      const csv = await ctx.client().assignmentGradesCsv(assignmentId);
      downloadText(csv, csvFileName(klass.slug, assignment?.title ?? assignmentId));
      setNote(trans.__('Downloaded the grades as CSV.'));
    } catch (err) {
      fail(err);
    }
  };

  /** Show a submission as the server answered after a change. */
  const replace = (changed: Submission) =>
    all.setValue(
      v =>
        v && {
          ...v,
          submissions: v.submissions.map(x => (x.id === changed.id ? changed : x))
        }
    );

  const override = async (s: Submission) => {
    const body = await askOverride(trans, s);
    if (!body) {
      return;
    }
    try {
      replace(await ctx.client().overrideScore(s.id, body));
      setNote(
        body.score === null || body.score === undefined
          ? trans.__('Cleared the override of %1.', s.student)
          : trans.__('Set the score of %1 to %2.', s.student, formatPoints(body.score))
      );
    } catch (err) {
      fail(err);
    }
  };

  const openSnapshot = async (s: Submission) => {
    try {
      await ctx.openSnapshot(s);
    } catch (err) {
      fail(err);
    }
  };

  const review = async (s: Submission) => {
    if (!s.project_id) {
      all.setError(trans.__('This submission has no project any more.'));
      return;
    }
    try {
      await ctx.openReview(s.project_id, s.files?.[0]);
    } catch (err) {
      fail(err);
    }
  };

  const groups = byStudent(submissions ?? []);
  const rows: { student: string; s: Submission; attempts: number; best: number | null }[] = [];
  for (const g of groups) {
    for (const s of allAttempts ? g.submissions : [g.latest]) {
      rows.push({ student: g.student, s, attempts: g.submissions.length, best: g.best });
    }
  }

  return (
    <div className="muscode-Submissions-view">
      <header className="muscode-View-header">
        <h2>{trans.__('Submissions: %1', assignment?.title ?? '')}</h2>
        {assignment && (
          <p>
            {dueText(trans, assignment.due_at)} · {pointsText(trans, assignment.max_score)} ·{' '}
            {plural(submissions?.length ?? 0, trans.__('submission'), trans.__('submissions'))} ·{' '}
            {assignment.published ? trans.__('published') : trans.__('draft')}
          </p>
        )}
      </header>
      <div className="muscode-Actions" role="toolbar" aria-label={trans.__('Submissions actions')}>
        <button
          type="button"
          className="jp-mod-styled muscode-Submissions-refresh"
          onClick={() => {
            // what the view said before is stale once it loads again
            setNote('');
            all.setError(null);
            if (regrade?.finished) {
              setRegrade(null);
            }
            void reload();
          }}
        >
          {trans.__('Refresh')}
        </button>
        <button
          type="button"
          className="jp-mod-styled muscode-Submissions-regrade"
          disabled={regrade !== null && !regrade.finished}
          onClick={() => void startRegrade()}
        >
          {trans.__('Regrade all')}
        </button>
        <button
          type="button"
          className="jp-mod-styled muscode-Submissions-csv"
          disabled={!ctx.capabilities().grades}
          onClick={() => void download()}
        >
          {trans.__('Download grades (CSV)')}
        </button>
        <label className="muscode-Check-label">
          <input
            type="checkbox"
            className="muscode-Submissions-all"
            checked={allAttempts}
            onChange={e => setAllAttempts(e.currentTarget.checked)}
          />
          {trans.__('Show every attempt')}
        </label>
      </div>
      {regrade && (
        <ProgressBar trans={trans} progress={regrade} label={trans.__('Regrade progress')} />
      )}
      <Note text={all.note} />
      <ErrorBox message={all.error} />
      {submissions === null && !all.error && (
        <p className="muscode-Empty">{trans.__('Loading…')}</p>
      )}
      {submissions !== null && !submissions.length && (
        <p className="muscode-Empty">{trans.__('No submissions yet.')}</p>
      )}
      {(rows.length > 0 || missing.length > 0) && (
        <table className="muscode-Table muscode-Submissions-table">
          <TableHead
            columns={[
              trans.__('Student'),
              trans.__('Attempt'),
              trans.__('Submitted'),
              trans.__('Late'),
              trans.__('Tests passed'),
              trans.__('Score'),
              trans.__('Best'),
              trans.__('Actions')
            ]}
          />
          <tbody>
            {rows.map(({ student, s, attempts, best }) => {
              const expanded = open === s.id;
              return (
                <React.Fragment key={s.id}>
                  <tr
                    className="muscode-Submissions-row"
                    data-student={student}
                    data-status={s.status}
                  >
                    <th scope="row">{student}</th>
                    <td>
                      {allAttempts
                        ? String(s.attempt)
                        : trans.__('%1 of %2', String(s.attempt), String(attempts))}
                    </td>
                    <td>{formatWhen(s.submitted_at)}</td>
                    <td className={s.late ? 'muscode-mod-late' : ''}>
                      {s.late ? lateText(trans, s) : trans.__('no')}
                    </td>
                    <td>{s.status === 'grading' ? trans.__('grading…') : passedText(s)}</td>
                    <td className="muscode-Submissions-score">
                      {s.status === 'grading'
                        ? trans.__('grading…')
                        : scoreText(s.score, s.max_score) || '–'}
                      {s.override && (
                        <span
                          className="muscode-Badge"
                          title={trans.__(
                            'Set by %1: %2',
                            s.override.by,
                            s.override.comment || trans.__('no comment')
                          )}
                        >
                          {trans.__('override')}
                        </span>
                      )}
                      {s.override?.review && (
                        <span
                          className="muscode-Badge muscode-Submissions-review"
                          title={trans.__(
                            'Given as %1 of %2 before the tests changed: set it again to confirm.',
                            formatPoints(s.override.score),
                            formatPoints(s.override.max)
                          )}
                        >
                          {trans.__('review override')}
                        </span>
                      )}
                    </td>
                    <td>{scoreText(best, s.max_score) || '–'}</td>
                    <td className="muscode-Submissions-actions">
                      <button
                        type="button"
                        className="jp-mod-styled muscode-Submissions-details"
                        aria-expanded={expanded}
                        aria-label={trans.__('Tests of %1, attempt %2', student, String(s.attempt))}
                        onClick={() => setOpen(expanded ? null : s.id)}
                      >
                        {trans.__('Tests')}
                      </button>
                      <button
                        type="button"
                        className="jp-mod-styled muscode-Submissions-override"
                        aria-label={trans.__('Override the score of %1', student)}
                        onClick={() => void override(s)}
                      >
                        {trans.__('Override')}
                      </button>
                      <button
                        type="button"
                        className="jp-mod-styled muscode-Submissions-open"
                        aria-label={trans.__(
                          'Open attempt %1 of %2 as graded (read-only)',
                          String(s.attempt),
                          student
                        )}
                        onClick={() => void openSnapshot(s)}
                      >
                        {trans.__('Open')}
                      </button>
                      <button
                        type="button"
                        className="jp-mod-styled muscode-Submissions-project"
                        aria-label={trans.__('Open the project of %1 (read-only)', student)}
                        title={trans.__(
                          'The project as it is now (for live help), not what was graded'
                        )}
                        disabled={!s.project_id}
                        onClick={() => void review(s)}
                      >
                        {trans.__('Project now')}
                      </button>
                    </td>
                  </tr>
                  {expanded && (
                    <tr className="muscode-Submissions-detail">
                      <td colSpan={8}>
                        <SubmissionSummary trans={trans} submission={s} asStudent={false} />
                        {s.status === 'graded' && (s.manual?.length ?? 0) > 0 && (
                          <ManualGrading
                            trans={trans}
                            submission={s}
                            save={scores => ctx.client().setManualScores(s.id, scores)}
                            onSaved={replace}
                          />
                        )}
                      </td>
                    </tr>
                  )}
                </React.Fragment>
              );
            })}
            {missing.map(m => (
              <tr
                key={`missing-${m.student}`}
                className="muscode-Submissions-row muscode-Submissions-missing"
                data-student={m.student}
                data-status="missing"
              >
                <th scope="row">{m.student}</th>
                <td colSpan={7}>
                  {trans.__('not submitted')}
                  {m.extended ? ' · ' + trans.__('extended: %1', dueText(trans, m.due_at)) : ''}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
