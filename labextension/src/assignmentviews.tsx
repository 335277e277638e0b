/**
 * The assignment views that open in JupyterLab's main area.
 *
 * Students: one assignment (description, Start, Check, Submit, results and score).
 * Staff (TAs, instructors, admins): the assignment editor, the submissions table with
 * overrides, read-only project review and regrade, the roster with CSV import, and the
 * class gradebook.
 */
import { MainAreaWidget } from '@jupyterlab/apputils';
import { IRenderMimeRegistry, MimeModel } from '@jupyterlab/rendermime';
import { TranslationBundle } from '@jupyterlab/translation';
import { ReactWidget, refreshIcon } from '@jupyterlab/ui-components';
import { ISignal, Signal } from '@lumino/signaling';
import * as React from 'react';

import {
  attemptsLeft,
  bodyOf,
  byStudent,
  canDelete,
  csvFileName,
  emptyForm,
  emptyTest,
  formatPoints,
  formMaxScore,
  formOf,
  IAssignmentForm,
  IFieldProblem,
  ILineError,
  IProgress,
  isPastDue,
  passedText,
  progressOf,
  rosterErrors,
  scoreText,
  studentStatus,
  StudentStatus,
  studentTest,
  visibleTests
} from './assignments';
import { askOverride, confirm } from './dialogs';
import { follow, INoticeSource } from './events';
import { formatDuration, formatMemory } from './output';
import { ICapabilities, MuscodeAPIError, MuscodeClient } from './request';
import { describeError, LanguageCatalog } from './runner';
import { verdictLabel } from './runpanel';
import type {
  Assignment,
  Class,
  ClassGradebook,
  ClassRole,
  EventNotice,
  Execution,
  GradingProgress,
  LateMode,
  Me,
  Member,
  Project,
  Submission,
  SubmissionTest
} from './types';

/** What every view needs from the plugin. */
export interface IAssignmentContext {
  client: () => MuscodeClient;
  trans: TranslationBundle;
  me: () => Me | null;
  catalog: () => LanguageCatalog;
  capabilities: () => ICapabilities;
  feed: INoticeSource;
  rendermime: IRenderMimeRegistry | null;
  /** Show one of the caller's projects in the MUSCode drive. */
  openProject: (project: Project) => Promise<void>;
  /** Open a student's project (or one file of it) read-only. */
  openReview: (projectId: string, path?: string) => Promise<void>;
  /** Open a main-area view. */
  open: (view: ViewRequest) => void;
  /** Emitted when assignments or rosters changed here (lists reload). */
  changed: Signal<object, string>;
  /** Poll interval while the event feed is down (ms). */
  pollInterval?: number;
}

/** The main-area views, and what each shows. */
export type ViewRequest =
  | { kind: 'assignment'; assignmentId: string; title: string }
  | { kind: 'editor'; klass: Class; assignmentId: string | null; title: string }
  | { kind: 'submissions'; klass: Class; assignmentId: string; title: string }
  | { kind: 'roster'; klass: Class }
  | { kind: 'gradebook'; klass: Class };

/** A stable id for a view: the plugin reveals an open one instead of opening twice. */
export function viewId(view: ViewRequest): string {
  switch (view.kind) {
    case 'assignment':
      return `muscode-assignment-${view.assignmentId}`;
    case 'editor':
      return `muscode-editor-${view.klass.id}-${view.assignmentId ?? 'new'}`;
    case 'submissions':
      return `muscode-submissions-${view.assignmentId}`;
    case 'roster':
      return `muscode-roster-${view.klass.id}`;
    case 'gradebook':
      return `muscode-gradebook-${view.klass.id}`;
  }
}

export function viewTitle(trans: TranslationBundle, view: ViewRequest): string {
  switch (view.kind) {
    case 'assignment':
      return view.title;
    case 'editor':
      return view.assignmentId
        ? trans.__('Edit: %1', view.title)
        : trans.__('New assignment (%1)', view.klass.name);
    case 'submissions':
      return trans.__('Submissions: %1', view.title);
    case 'roster':
      return trans.__('Roster: %1', view.klass.name);
    case 'gradebook':
      return trans.__('Grades: %1', view.klass.name);
  }
}

/** A main-area widget for `view`. */
export function createView(ctx: IAssignmentContext, view: ViewRequest): MainAreaWidget {
  let body: JSX.Element;
  switch (view.kind) {
    case 'assignment':
      body = <StudentAssignment ctx={ctx} assignmentId={view.assignmentId} />;
      break;
    case 'editor':
      body = <AssignmentEditor ctx={ctx} klass={view.klass} assignmentId={view.assignmentId} />;
      break;
    case 'submissions':
      body = <SubmissionsView ctx={ctx} klass={view.klass} assignmentId={view.assignmentId} />;
      break;
    case 'roster':
      body = <RosterView ctx={ctx} klass={view.klass} />;
      break;
    case 'gradebook':
      body = <GradebookView ctx={ctx} klass={view.klass} />;
      break;
  }
  const content = ReactWidget.create(body);
  content.addClass('muscode-View');
  const widget = new MainAreaWidget({ content });
  widget.id = viewId(view);
  widget.title.label = viewTitle(ctx.trans, view);
  widget.title.closable = true;
  widget.addClass('muscode-ViewWidget');
  return widget;
}

// -- small pieces ----------------------------------------------------------------------

function useSignal<T>(signal: ISignal<unknown, T>, slot: (value: T) => void): void {
  const ref = React.useRef(slot);
  ref.current = slot;
  React.useEffect(() => {
    const handler = (_: unknown, value: T) => ref.current(value);
    signal.connect(handler);
    return () => {
      signal.disconnect(handler);
    };
  }, [signal]);
}

/** False once the component has unmounted: late replies must not set its state. */
function useAlive(): React.MutableRefObject<boolean> {
  const alive = React.useRef(true);
  React.useEffect(
    () => () => {
      alive.current = false;
    },
    []
  );
  return alive;
}

/** Call `reload` when a submission of the assignment is made or graded. */
function useSubmissionNotices(
  feed: INoticeSource,
  assignmentId: string,
  reload: () => Promise<unknown>
): void {
  useSignal(feed.notice, (notice: EventNotice) => {
    if (notice.type === 'submission' && notice.assignment_id === assignmentId) {
      void reload();
    }
  });
}

/**
 * Run `load` now and whenever `key` changes; a failure shows through `setError`, a
 * success clears it. Returns a function that loads again.
 */
function useReload(
  load: () => Promise<void>,
  key: string,
  setError: (message: string | null) => void
): () => Promise<void> {
  const reload = React.useCallback(async () => {
    try {
      await load();
      setError(null);
    } catch (err) {
      setError(describeError(err));
    }
  }, [key]);
  React.useEffect(() => {
    void reload();
  }, [reload]);
  return reload;
}

/** An assignment and its submissions, fetched together. */
function fetchWithSubmissions(
  client: MuscodeClient,
  assignmentId: string
): Promise<[Assignment, Submission[]]> {
  return Promise.all([client.getAssignment(assignmentId), client.listSubmissions(assignmentId)]);
}

function ErrorBox(props: { message: string | null }): JSX.Element | null {
  return props.message ? (
    <div className="muscode-Error" role="alert">
      {props.message}
    </div>
  ) : null;
}

/** A short, polite report of what just happened (nothing when empty). */
function Note(props: { text: string }): JSX.Element | null {
  return props.text ? (
    <p className="muscode-Note" role="status">
      {props.text}
    </p>
  ) : null;
}

/** A table's header row; a `false` column is left out. */
function TableHead(props: { columns: (string | false)[] }): JSX.Element {
  return (
    <thead>
      <tr>
        {props.columns.map(
          label =>
            label !== false && (
              <th scope="col" key={label}>
                {label}
              </th>
            )
        )}
      </tr>
    </thead>
  );
}

function formatWhen(iso: string | null | undefined): string {
  if (!iso) {
    return '–';
  }
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

export function dueText(trans: TranslationBundle, due: string | null): string {
  return due ? trans.__('Due %1', formatWhen(due)) : trans.__('No due date');
}

export function statusLabel(trans: TranslationBundle, status: StudentStatus): string {
  switch (status) {
    case 'not_started':
      return trans.__('Not started');
    case 'started':
      return trans.__('Started');
    case 'submitted':
      return trans.__('Submitted');
  }
}

function lateText(trans: TranslationBundle, s: Submission): string {
  return s.days_late > 0
    ? trans._n('late by %1 day', 'late by %1 days', s.days_late, String(s.days_late))
    : trans.__('late');
}

function latePolicyText(trans: TranslationBundle, a: Assignment): string {
  switch (a.late_policy.mode) {
    case 'accept':
      return trans.__('Late submissions get full credit and are marked late.');
    case 'penalty':
      return trans.__(
        'Late submissions lose %1% of their score per started day late.',
        formatPoints(a.late_policy.penalty_per_day ?? 0)
      );
    case 'no_credit':
      return trans.__('Late submissions get no credit.');
  }
}

/** Save text as a file through the browser's download. */
export function downloadText(text: string, fileName: string, type = 'text/csv'): void {
  const url = URL.createObjectURL(new Blob([text], { type: `${type};charset=utf-8` }));
  const a = document.createElement('a');
  a.href = url;
  a.download = fileName;
  a.style.display = 'none';
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** Markdown rendered by JupyterLab's rendermime, untrusted (so sanitized). */
function Markdown(props: {
  source: string;
  rendermime: IRenderMimeRegistry | null;
  label: string;
}): JSX.Element {
  const { source, rendermime } = props;
  const ref = React.useRef<HTMLDivElement>(null);
  React.useEffect(() => {
    const host = ref.current;
    if (!rendermime || !host) {
      return;
    }
    const renderer = rendermime.createRenderer('text/markdown');
    const model = new MimeModel({ data: { 'text/markdown': source }, trusted: false });
    let live = true;
    void renderer.renderModel(model).then(() => {
      if (live) {
        host.replaceChildren(renderer.node);
      }
    });
    return () => {
      live = false;
      renderer.dispose();
    };
  }, [source, rendermime]);
  if (!rendermime) {
    return (
      <pre className="muscode-Markdown muscode-Markdown-plain" aria-label={props.label}>
        {source}
      </pre>
    );
  }
  return <div ref={ref} className="muscode-Markdown" aria-label={props.label} />;
}

function ProgressBar(props: {
  trans: TranslationBundle;
  progress: IProgress;
  label: string;
}): JSX.Element {
  const { trans, progress } = props;
  return (
    <div
      className="muscode-Progress"
      data-state={progress.finished ? 'done' : 'running'}
      role="group"
      aria-label={props.label}
    >
      <progress max={Math.max(progress.total, 1)} value={progress.total ? progress.done : 1} />
      <span className="muscode-Progress-text" role="status">
        {progress.finished
          ? trans.__(
              'Regraded %1 of %2 submissions.',
              String(progress.done),
              String(progress.total)
            )
          : trans.__('Regrading: %1 of %2 done…', String(progress.done), String(progress.total))}
      </span>
    </div>
  );
}

// -- tests and submissions -----------------------------------------------------------

function TestOutput(props: {
  trans: TranslationBundle;
  expected?: string;
  stdout?: string;
  stderr?: string;
  message?: string | null;
}): JSX.Element | null {
  const { trans } = props;
  if (!props.expected && !props.stdout && !props.stderr && !props.message) {
    return null;
  }
  return (
    <details className="muscode-TestOutput">
      <summary>{trans.__('Output')}</summary>
      {props.message && <p>{props.message}</p>}
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
function CheckResults(props: {
  trans: TranslationBundle;
  run: Execution;
  assignment: Assignment;
}): JSX.Element {
  const { trans, run, assignment } = props;
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
                  {t.verdict !== 'accepted' && (
                    <TestOutput
                      trans={trans}
                      expected={spec?.expected_output ?? undefined}
                      stdout={t.stdout}
                      stderr={t.stderr}
                      message={t.message}
                    />
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

/** The tests of a submission; `asStudent` shows hidden tests as pass/fail only. */
function SubmissionTests(props: {
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
      <tbody>
        {tests.map(t => {
          const result = t.passed ? trans.__('Passed') : trans.__('Failed');
          const detail =
            t.verdict !== undefined && !t.passed ? ` (${verdictLabel(trans, t.verdict)})` : '';
          return (
            <tr
              key={t.name}
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
                {!(props.asStudent && t.hidden) && !t.passed && (
                  <TestOutput
                    trans={trans}
                    expected={t.expected_output ?? undefined}
                    stdout={t.stdout}
                    stderr={t.stderr}
                    message={t.message}
                  />
                )}
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

function SubmissionSummary(props: {
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
    </section>
  );
}

// -- a student's assignment ------------------------------------------------------------

type Busy = 'start' | 'check' | 'submit' | null;

function StudentAssignment(props: { ctx: IAssignmentContext; assignmentId: string }): JSX.Element {
  const { ctx, assignmentId } = props;
  const { trans } = ctx;
  const [assignment, setAssignment] = React.useState<Assignment | null>(null);
  const [submissions, setSubmissions] = React.useState<Submission[]>([]);
  const [run, setRun] = React.useState<Execution | null>(null);
  const [busy, setBusy] = React.useState<Busy>(null);
  const [error, setError] = React.useState<string | null>(null);
  const [note, setNote] = React.useState('');
  const following = React.useRef(new Set<string>());
  const classId = React.useRef<string | null>(null);
  const alive = useAlive();

  const reload = React.useCallback(async () => {
    try {
      const [a, subs] = await fetchWithSubmissions(ctx.client(), assignmentId);
      classId.current = a.class_id;
      if (alive.current) {
        setAssignment(a);
        setSubmissions(subs);
        setError(null);
      }
    } catch (err) {
      if (alive.current) {
        setError(describeError(err));
      }
    }
  }, [assignmentId]);

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
          if (alive.current) {
            setError(describeError(err));
          }
        });
    },
    [reload]
  );

  React.useEffect(() => {
    void reload();
  }, [reload]);

  // Grades that change elsewhere (a regrade, an override) come as notices too.
  useSubmissionNotices(ctx.feed, assignmentId, reload);

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
        <ErrorBox message={error} />
        {!error && <p className="muscode-Empty">{trans.__('Loading…')}</p>}
      </div>
    );
  }
  const a = assignment;
  const status = studentStatus(a);
  const left = attemptsLeft(a);
  const pastDue = isPastDue(a);
  const visible = visibleTests(a);
  const hiddenCount = a.tests.length - visible.length;
  const latest = submissions[0] ?? null;
  const grading = submissions.some(s => s.status === 'grading');
  const language = ctx.catalog().byId(a.language)?.name ?? a.language;

  const act = async (what: Busy, job: () => Promise<void>) => {
    setBusy(what);
    setNote('');
    try {
      await job();
      setError(null);
    } catch (err) {
      setError(describeError(err));
    } finally {
      if (alive.current) {
        setBusy(null);
      }
    }
  };

  const ensureProject = async (): Promise<string> => {
    if (a.my.project_id) {
      return a.my.project_id;
    }
    const project = await ctx.client().startAssignment(a.id);
    setAssignment({ ...a, my: { ...a.my, project_id: project.id } });
    return project.id;
  };

  const start = () =>
    act('start', async () => {
      const project = await ctx.client().startAssignment(a.id);
      setAssignment({ ...a, my: { ...a.my, project_id: project.id } });
      ctx.changed.emit(a.class_id);
      await ctx.openProject(project);
      setNote(trans.__('Your project "%1" is open in the MUSCode panel\'s files.', project.name));
    });

  const check = () =>
    act('check', async () => {
      const projectId = await ensureProject();
      const client = ctx.client();
      setRun(null);
      const reply = await client.checkAssignment(a.id, projectId, { wait: true });
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
      }
    });

  const submit = () =>
    act('submit', async () => {
      const body =
        left === null
          ? trans.__('Submit your project as it is saved now? It is graded against every test.')
          : trans._n(
              'Submit your project as it is saved now? It is graded against every test. You have %1 attempt left.',
              'Submit your project as it is saved now? It is graded against every test. You have %1 attempts left.',
              left,
              String(left)
            );
      const ok = await confirm(trans, trans.__('Submit "%1"', a.title), body, trans.__('Submit'));
      if (!ok) {
        return;
      }
      const projectId = await ensureProject();
      const submission = await ctx.client().submit(a.id, projectId);
      setSubmissions(list => [submission, ...list.filter(s => s.id !== submission.id)]);
      setAssignment({
        ...a,
        my: {
          ...a.my,
          project_id: projectId,
          attempts: Math.max(a.my.attempts, submission.attempt)
        }
      });
      setNote(trans.__('Submitted: attempt %1 is being graded.', String(submission.attempt)));
      ctx.changed.emit(a.class_id);
      if (submission.status === 'grading') {
        watch(submission.id);
      } else {
        await reload();
      }
    });

  return (
    <div className="muscode-Assignment-view" data-assignment={a.title} data-status={status}>
      <header className="muscode-View-header">
        <h2>{a.title}</h2>
        <div className="muscode-Assignment-facts">
          <span className="muscode-Badge muscode-Assignment-status">
            {statusLabel(trans, status)}
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
            <dd className="muscode-Assignment-best">
              {scoreText(a.my.best_score, a.max_score) || trans.__('none yet')}
            </dd>
          </div>
          <div>
            <dt>{trans.__('Attempts')}</dt>
            <dd className="muscode-Assignment-attempts">
              {left === null
                ? trans.__('%1 (no limit)', String(a.my.attempts))
                : trans.__(
                    '%1 of %2 (%3 left)',
                    String(a.my.attempts),
                    String(a.max_attempts),
                    String(left)
                  )}
            </dd>
          </div>
          <div>
            <dt>{trans.__('Tests')}</dt>
            <dd>
              {trans.__(
                '%1 visible, %2 hidden; %3 points',
                String(visible.length),
                String(hiddenCount),
                formatPoints(a.max_score)
              )}
            </dd>
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
        <button
          type="button"
          className="jp-mod-styled muscode-Assignment-check"
          disabled={
            busy !== null || !a.my.project_id || !visible.length || !ctx.capabilities().check
          }
          title={
            !a.my.project_id
              ? trans.__('Start the assignment first')
              : trans.__('Run the visible tests on your saved project (not a submission)')
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
                : trans.__('Submit your saved project for grading')
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
          onClick={() => void reload()}
        >
          <refreshIcon.react tag="span" elementSize="normal" />
        </button>
      </div>
      <Note text={note} />
      <ErrorBox message={error} />
      {run && <CheckResults trans={trans} run={run} assignment={a} />}
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

// -- the assignment editor ----------------------------------------------------------

function problemFor(problems: IFieldProblem[], field: string): string | undefined {
  return problems.find(p => p.field === field)?.message;
}

let fieldCounter = 0;
function useFieldId(prefix: string): string {
  const [id] = React.useState(() => `${prefix}-${++fieldCounter}`);
  return id;
}

/** The attributes that tie a control to its label and to its problem, if any. */
interface IControlIds {
  id: string;
  'aria-describedby': string | undefined;
  'aria-invalid': true | undefined;
}

/** A labelled control, with its problem (if any) announced below it. */
function Field(props: {
  label: string;
  problem?: string;
  children: (ids: IControlIds) => JSX.Element;
}): JSX.Element {
  const id = useFieldId('muscode-f');
  const problemId = `${id}-problem`;
  const describedBy = props.problem ? problemId : undefined;
  return (
    <div className="muscode-Field">
      <label htmlFor={id}>{props.label}</label>
      {props.children({
        id,
        'aria-describedby': describedBy,
        'aria-invalid': describedBy ? true : undefined
      })}
      {props.problem && (
        <span id={problemId} className="muscode-Field-problem" role="alert">
          {props.problem}
        </span>
      )}
    </div>
  );
}

/** What `TextField` hands its control: the ids, the style and the bound value. */
interface ITextControl extends IControlIds {
  className: string;
  value: string;
  onChange: (
    e: React.ChangeEvent<HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement>
  ) => void;
}

/**
 * A `Field` whose control (an input, a textarea or a select) edits a string:
 * `className` is added to JupyterLab's `jp-mod-styled`.
 */
function TextField(props: {
  label: string;
  problem?: string;
  className: string;
  value: string;
  onValue: (value: string) => void;
  children: (control: ITextControl) => JSX.Element;
}): JSX.Element {
  const { className, value, onValue } = props;
  return (
    <Field label={props.label} problem={props.problem}>
      {ids =>
        props.children({
          ...ids,
          className: `jp-mod-styled ${className}`,
          value,
          onChange: e => onValue(e.currentTarget.value)
        })
      }
    </Field>
  );
}

/**
 * A list the user edits item by item: each item's fields (`children`, with an
 * `update` that changes that item) and a button that removes it, then an add button.
 */
function ListEditor<T extends object>(props: {
  className: string;
  legend: string;
  empty: string;
  items: T[];
  onChange: (items: T[]) => void;
  /** Added to `muscode-Editor-item` on each item. */
  itemClassName?: string;
  children: (item: T, update: (change: Partial<T>) => void, index: number) => React.ReactNode;
  removeClassName: string;
  removeLabel: (item: T, index: number) => string;
  addClassName: string;
  addLabel: string;
  onAdd: () => void;
}): JSX.Element {
  const { items, onChange } = props;
  const itemClass = ['muscode-Editor-item', props.itemClassName].filter(Boolean).join(' ');
  return (
    <fieldset className={props.className}>
      <legend>{props.legend}</legend>
      {!items.length && <p className="muscode-Empty">{props.empty}</p>}
      {items.map((item, i) => (
        <div className={itemClass} key={i} data-index={i}>
          {props.children(
            item,
            change => onChange(items.map((x, j) => (j === i ? { ...x, ...change } : x))),
            i
          )}
          <button
            type="button"
            className={`jp-mod-styled ${props.removeClassName}`}
            onClick={() => onChange(items.filter((_, j) => j !== i))}
          >
            {props.removeLabel(item, i)}
          </button>
        </div>
      ))}
      <button type="button" className={`jp-mod-styled ${props.addClassName}`} onClick={props.onAdd}>
        {props.addLabel}
      </button>
    </fieldset>
  );
}

function AssignmentEditor(props: {
  ctx: IAssignmentContext;
  klass: Class;
  assignmentId: string | null;
}): JSX.Element {
  const { ctx, klass } = props;
  const { trans } = ctx;
  const [assignmentId, setAssignmentId] = React.useState(props.assignmentId);
  const [loaded, setLoaded] = React.useState<Assignment | null>(null);
  const available = ctx.catalog().available;
  const [form, setForm] = React.useState<IAssignmentForm>(() =>
    emptyForm(available.find(l => l.id === 'python')?.id ?? available[0]?.id ?? '')
  );
  const [problems, setProblems] = React.useState<IFieldProblem[]>([]);
  const [error, setError] = React.useState<string | null>(null);
  const [note, setNote] = React.useState('');
  const [busy, setBusy] = React.useState(false);
  const role: ClassRole | null = loaded?.role ?? klass.role;
  const mayDelete = canDelete(role, ctx.me());

  React.useEffect(() => {
    if (!props.assignmentId) {
      return;
    }
    void ctx
      .client()
      .getAssignment(props.assignmentId)
      .then(a => {
        setLoaded(a);
        setForm(formOf(a));
      })
      .catch(err => setError(describeError(err)));
  }, [props.assignmentId]);

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

  const save = async () => {
    const result = bodyOf(form, {
      required: trans.__('Required.'),
      number: trans.__('A number of points, 0 or more.'),
      wholeAtLeastOne: trans.__('A whole number, 1 or more (or empty for no limit).'),
      percent: trans.__('A percentage from 0 to 100.'),
      duplicate: trans.__('Already used above.'),
      date: trans.__('Not a date.')
    });
    if (!result.ok) {
      setProblems(result.problems);
      setError(trans.__('Some fields need a fix (marked below).'));
      return;
    }
    setBusy(true);
    setNote('');
    try {
      const client = ctx.client();
      const saved = assignmentId
        ? await client.updateAssignment(assignmentId, result.body)
        : await client.createAssignment(klass.id, result.body);
      setAssignmentId(saved.id);
      setLoaded(saved);
      setForm(formOf(saved));
      setProblems([]);
      setError(null);
      setNote(
        saved.published
          ? trans.__('Saved and published: students see "%1".', saved.title)
          : trans.__('Saved as a draft: students do not see "%1" yet.', saved.title)
      );
      ctx.changed.emit(klass.id);
    } catch (err) {
      if (err instanceof MuscodeAPIError && err.errors.length) {
        setProblems(err.errors.map(e => ({ field: e.field, message: e.message })));
      }
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
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
      setError(describeError(err));
    }
  };

  return (
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
      <ErrorBox message={error} />
      <Note text={note} />
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

      <ListEditor
        className="muscode-Editor-tests"
        legend={trans.__('Tests (%1 points in all)', formatPoints(formMaxScore(form)))}
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
          </>
        )}
      </ListEditor>

      <div className="muscode-Actions">
        <button
          type="submit"
          className="jp-mod-styled jp-mod-accept muscode-Editor-save"
          disabled={busy}
        >
          {assignmentId ? trans.__('Save') : trans.__('Create')}
        </button>
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
            disabled={busy}
            onClick={() => void remove()}
          >
            {trans.__('Delete')}
          </button>
        )}
      </div>
    </form>
  );
}

// -- submissions of an assignment (staff) ------------------------------------------

function SubmissionsView(props: {
  ctx: IAssignmentContext;
  klass: Class;
  assignmentId: string;
}): JSX.Element {
  const { ctx, klass, assignmentId } = props;
  const { trans } = ctx;
  const [assignment, setAssignment] = React.useState<Assignment | null>(null);
  const [submissions, setSubmissions] = React.useState<Submission[] | null>(null);
  const [open, setOpen] = React.useState<string | null>(null);
  const [allAttempts, setAllAttempts] = React.useState(false);
  const [error, setError] = React.useState<string | null>(null);
  const [note, setNote] = React.useState('');
  const [regrade, setRegrade] = React.useState<IProgress | null>(null);
  const alive = useAlive();
  const regrading = React.useRef(false);

  const reload = React.useCallback(async () => {
    try {
      const [a, subs] = await fetchWithSubmissions(ctx.client(), assignmentId);
      if (alive.current) {
        setAssignment(a);
        setSubmissions(subs);
        setError(null);
      }
      return a;
    } catch (err) {
      if (alive.current) {
        setError(describeError(err));
      }
      return null;
    }
  }, [assignmentId]);

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
          }
        },
        fetch: async () => {
          const a = await ctx.client().getAssignment(assignmentId);
          return a.grading ?? { total: first.total, pending: 0 };
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
          if (alive.current) {
            setError(describeError(err));
          }
        });
    },
    [assignmentId, reload]
  );

  React.useEffect(() => {
    void reload().then(a => {
      // a regrade started elsewhere (or before this view opened) is still going
      if (a?.grading && a.grading.pending > 0) {
        followRegrade(a.grading);
      }
    });
  }, [reload, followRegrade]);

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
      const progress = await ctx.client().regrade(assignmentId);
      followRegrade(progress);
    } catch (err) {
      setError(describeError(err));
    }
  };

  const download = async () => {
    try {
      const csv = await ctx.client().assignmentGradesCsv(assignmentId);
      downloadText(csv, csvFileName(klass.slug, assignment?.title ?? assignmentId));
      setNote(trans.__('Downloaded the grades as CSV.'));
    } catch (err) {
      setError(describeError(err));
    }
  };

  const override = async (s: Submission) => {
    const body = await askOverride(trans, s);
    if (!body) {
      return;
    }
    try {
      const changed = await ctx.client().overrideScore(s.id, body);
      setSubmissions(list => (list ?? []).map(x => (x.id === changed.id ? changed : x)));
      setNote(
        body.score === null
          ? trans.__('Cleared the override of %1.', s.student)
          : trans.__('Set the score of %1 to %2.', s.student, formatPoints(body.score))
      );
    } catch (err) {
      setError(describeError(err));
    }
  };

  const review = async (s: Submission) => {
    if (!s.project_id) {
      setError(trans.__('This submission has no project any more.'));
      return;
    }
    try {
      await ctx.openReview(s.project_id, s.files?.[0]);
    } catch (err) {
      setError(describeError(err));
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
            {dueText(trans, assignment.due_at)} ·{' '}
            {trans.__('%1 points', formatPoints(assignment.max_score))} ·{' '}
            {assignment.published ? trans.__('published') : trans.__('draft')}
          </p>
        )}
      </header>
      <div className="muscode-Actions" role="toolbar" aria-label={trans.__('Submissions actions')}>
        <button
          type="button"
          className="jp-mod-styled muscode-Submissions-refresh"
          onClick={() => void reload()}
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
      <Note text={note} />
      <ErrorBox message={error} />
      {submissions === null && !error && <p className="muscode-Empty">{trans.__('Loading…')}</p>}
      {submissions !== null && !submissions.length && (
        <p className="muscode-Empty">{trans.__('No submissions yet.')}</p>
      )}
      {rows.length > 0 && (
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
                      {scoreText(s.score, s.max_score) || '–'}
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
                        aria-label={trans.__('Open the project of %1 (read-only)', student)}
                        disabled={!s.project_id}
                        onClick={() => void review(s)}
                      >
                        {trans.__('Open')}
                      </button>
                    </td>
                  </tr>
                  {expanded && (
                    <tr className="muscode-Submissions-detail">
                      <td colSpan={8}>
                        <SubmissionSummary trans={trans} submission={s} asStudent={false} />
                      </td>
                    </tr>
                  )}
                </React.Fragment>
              );
            })}
          </tbody>
        </table>
      )}
    </div>
  );
}

// -- the roster (staff) ----------------------------------------------------------------

function RosterView(props: { ctx: IAssignmentContext; klass: Class }): JSX.Element {
  const { ctx, klass } = props;
  const { trans } = ctx;
  const [members, setMembers] = React.useState<Member[] | null>(null);
  const [error, setError] = React.useState<string | null>(null);
  const [note, setNote] = React.useState('');
  const [name, setName] = React.useState('');
  const [role, setRole] = React.useState<ClassRole>('student');
  const [csv, setCsv] = React.useState('name,role\n');
  const [lineErrors, setLineErrors] = React.useState<ILineError[]>([]);
  const [busy, setBusy] = React.useState(false);
  const mayRemove = canDelete(klass.role, ctx.me());

  const reload = useReload(
    async () => setMembers(await ctx.client().listMembers(klass.id)),
    klass.id,
    setError
  );

  const act = async (job: () => Promise<void>) => {
    setBusy(true);
    setNote('');
    try {
      await job();
      setError(null);
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  };

  const add = () =>
    act(async () => {
      const who = name.trim();
      if (!who) {
        throw new Error(trans.__('Type the user name of the person to add.'));
      }
      setMembers(await ctx.client().addMembers(klass.id, { members: [{ name: who, role }] }));
      setName('');
      setNote(trans.__('Added %1.', who));
      ctx.changed.emit(klass.id);
    });

  const remove = (m: Member) =>
    act(async () => {
      const ok = await confirm(
        trans,
        trans.__('Remove from the class'),
        trans.__('Take %1 out of %2? Their projects and submissions stay.', m.name, klass.name),
        trans.__('Remove')
      );
      if (!ok) {
        return;
      }
      await ctx.client().removeMember(klass.id, m.name);
      setNote(trans.__('Removed %1.', m.name));
      await reload();
    });

  const importCsv = async () => {
    setBusy(true);
    setNote('');
    setLineErrors([]);
    try {
      const roster = await ctx.client().importRoster(klass.id, csv);
      setMembers(roster);
      setError(null);
      setNote(trans.__('Imported: the class has %1 members.', String(roster.length)));
      ctx.changed.emit(klass.id);
    } catch (err) {
      const lines = rosterErrors(err);
      setLineErrors(lines);
      setError(
        err instanceof MuscodeAPIError && err.status === 422
          ? trans.__('Nothing was imported: fix these lines and import again.')
          : describeError(err)
      );
    } finally {
      setBusy(false);
    }
  };

  const roleLabel = (r: ClassRole) =>
    r === 'instructor' ? trans.__('instructor') : r === 'ta' ? trans.__('TA') : trans.__('student');

  return (
    <div className="muscode-Roster-view">
      <header className="muscode-View-header">
        <h2>{trans.__('Roster of %1', klass.name)}</h2>
      </header>
      <ErrorBox message={error} />
      <Note text={note} />
      {members === null && !error && <p className="muscode-Empty">{trans.__('Loading…')}</p>}
      {members !== null && (
        <table className="muscode-Table muscode-Roster-table" aria-label={trans.__('Members')}>
          <TableHead
            columns={[trans.__('Name'), trans.__('Role'), mayRemove && trans.__('Actions')]}
          />
          <tbody>
            {members.map(m => (
              <tr key={m.name} data-member={m.name}>
                <th scope="row">{m.name}</th>
                <td>{roleLabel(m.role)}</td>
                {mayRemove && (
                  <td>
                    <button
                      type="button"
                      className="jp-mod-styled muscode-Roster-remove"
                      aria-label={trans.__('Remove %1', m.name)}
                      disabled={busy}
                      onClick={() => void remove(m)}
                    >
                      {trans.__('Remove')}
                    </button>
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <form
        className="muscode-Roster-add"
        aria-label={trans.__('Add a member')}
        onSubmit={e => {
          e.preventDefault();
          void add();
        }}
      >
        <h3>{trans.__('Add a member')}</h3>
        <div className="muscode-Editor-row">
          <TextField
            label={trans.__('User name')}
            className="muscode-Roster-name"
            value={name}
            onValue={setName}
          >
            {c => <input {...c} type="text" />}
          </TextField>
          <TextField
            label={trans.__('Role')}
            className="muscode-Roster-role"
            value={role}
            onValue={v => setRole(v as ClassRole)}
          >
            {c => (
              <select {...c}>
                <option value="student">{trans.__('student')}</option>
                <option value="ta">{trans.__('TA')}</option>
                <option value="instructor">{trans.__('instructor')}</option>
              </select>
            )}
          </TextField>
          <button type="submit" className="jp-mod-styled jp-mod-accept" disabled={busy}>
            {trans.__('Add')}
          </button>
        </div>
      </form>
      <section className="muscode-Roster-import" aria-label={trans.__('Import a roster')}>
        <h3>{trans.__('Import a roster (CSV)')}</h3>
        <p>
          {trans.__(
            'A header line "name,role", then one person per line; an empty role is student. All or nothing: one bad line imports nobody.'
          )}
        </p>
        <Field label={trans.__('CSV file')}>
          {ids => (
            <input
              id={ids.id}
              className="muscode-Roster-file"
              type="file"
              accept=".csv,text/csv"
              onChange={e => {
                const file = e.currentTarget.files?.[0];
                if (file) {
                  void file.text().then(setCsv);
                }
              }}
            />
          )}
        </Field>
        <TextField
          label={trans.__('Or paste the CSV here')}
          className="muscode-Roster-csv muscode-Code"
          value={csv}
          onValue={setCsv}
        >
          {c => <textarea {...c} rows={6} spellCheck={false} />}
        </TextField>
        <button
          type="button"
          className="jp-mod-styled jp-mod-accept muscode-Roster-importButton"
          disabled={busy}
          onClick={() => void importCsv()}
        >
          {trans.__('Import')}
        </button>
        {lineErrors.length > 0 && (
          <ul className="muscode-Roster-errors" aria-label={trans.__('Problems in the CSV')}>
            {lineErrors.map((e, i) => (
              <li key={i} data-line={e.line ?? ''}>
                {e.line === null ? e.message : trans.__('Line %1: %2', String(e.line), e.message)}
              </li>
            ))}
          </ul>
        )}
      </section>
    </div>
  );
}

// -- the class gradebook (staff) -------------------------------------------------------

function GradebookView(props: { ctx: IAssignmentContext; klass: Class }): JSX.Element {
  const { ctx, klass } = props;
  const { trans } = ctx;
  const [book, setBook] = React.useState<ClassGradebook | null>(null);
  const [error, setError] = React.useState<string | null>(null);
  const [note, setNote] = React.useState('');

  const reload = useReload(
    async () => setBook(await ctx.client().classGrades(klass.id)),
    klass.id,
    setError
  );

  const download = async () => {
    try {
      downloadText(await ctx.client().classGradesCsv(klass.id), csvFileName(klass.slug));
      setNote(trans.__('Downloaded the gradebook as CSV.'));
    } catch (err) {
      setError(describeError(err));
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
      <Note text={note} />
      <ErrorBox message={error} />
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
