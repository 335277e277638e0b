/**
 * The MUSCode side panel: my projects (create, open, add a file, rename, delete,
 * restore), the files of the MUSCode drive, and my classes with their assignments.
 */
import { TranslationBundle } from '@jupyterlab/translation';
import {
  addIcon,
  editIcon,
  folderIcon,
  ReactWidget,
  refreshIcon,
  SidePanel,
  undoIcon,
  deleteIcon
} from '@jupyterlab/ui-components';
import { LabIcon } from '@jupyterlab/ui-components';
import { ISignal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';
import * as React from 'react';

import { askNewProject, askText, confirm } from './dialogs';
import { MuscodeDrive } from './drive';
import { muscodeIcon } from './icons';
import { MuscodeAPIError, MuscodeClient } from './request';
import { describeError, LanguageCatalog } from './runner';
import { verdictLabel } from './runpanel';
import type {
  Assignment,
  AssignmentTest,
  Class,
  Execution,
  Me,
  Project,
  Submission
} from './types';

/** Re-render a component whenever `signal` fires. */
function useSignal(signal: ISignal<object, unknown>): number {
  const [tick, setTick] = React.useState(0);
  React.useEffect(() => {
    const slot = () => setTick(t => t + 1);
    signal.connect(slot);
    return () => {
      signal.disconnect(slot);
    };
  }, [signal]);
  return tick;
}

function IconButton(props: {
  icon: LabIcon;
  label: string;
  onClick: () => void;
  className?: string;
  disabled?: boolean;
}): JSX.Element {
  return (
    <button
      type="button"
      className={`muscode-IconButton ${props.className ?? ''}`}
      aria-label={props.label}
      title={props.label}
      disabled={props.disabled}
      onClick={props.onClick}
    >
      <props.icon.react tag="span" elementSize="normal" />
    </button>
  );
}

// -- projects ---------------------------------------------------------------------------

export interface IProjectsProps {
  drive: MuscodeDrive;
  trans: TranslationBundle;
  catalog: () => LanguageCatalog;
  defaultLanguage: () => string;
  serverChanged: ISignal<object, void>;
  onOpen: (project: Project) => Promise<void>;
  onNewFile: (project: Project) => Promise<void>;
}

function ProjectsView(props: IProjectsProps): JSX.Element {
  const { drive, trans } = props;
  const [projects, setProjects] = React.useState<Project[] | null>(null);
  const [showDeleted, setShowDeleted] = React.useState(false);
  const [error, setError] = React.useState<string | null>(null);
  const [busy, setBusy] = React.useState(false);
  const changes = useSignal(drive.projectsChanged);
  const server = useSignal(props.serverChanged);

  const load = React.useCallback(async () => {
    try {
      setProjects(await drive.listProjects(showDeleted));
      setError(null);
    } catch (err) {
      setError(describeError(err));
    }
  }, [drive, showDeleted]);

  React.useEffect(() => {
    void load();
  }, [load, changes, server]);

  const act = async (what: () => Promise<unknown>) => {
    setBusy(true);
    try {
      await what();
      setError(null);
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
      void load();
    }
  };

  const create = () =>
    act(async () => {
      const available = props.catalog().available;
      if (!available.length) {
        throw new Error(trans.__('This MUSCode server cannot run any language right now'));
      }
      const wanted = props.defaultLanguage();
      const language = available.some(l => l.id === wanted) ? wanted : available[0].id;
      const form = await askNewProject(trans, available, language);
      if (form) {
        const project = await drive.createProject(form.name, form.language, form.description);
        await props.onOpen(project);
      }
    });

  const rename = (p: Project) =>
    act(async () => {
      const name = await askText(trans, trans.__('Rename project'), trans.__('New name'), p.name);
      if (name && name !== p.name) {
        await drive.renameProject(p, name);
      }
    });

  const remove = (p: Project) =>
    act(async () => {
      const ok = await confirm(
        trans,
        trans.__('Delete project'),
        trans.__('Delete "%1"? You can restore it from the deleted projects.', p.name),
        trans.__('Delete')
      );
      if (ok) {
        await drive.deleteProject(p);
      }
    });

  const live = (projects ?? []).filter(p => p.deleted_at === null);
  const deleted = (projects ?? []).filter(p => p.deleted_at !== null);
  const languageName = (id: string) => props.catalog().byId(id)?.name ?? id;

  return (
    <div className="muscode-Projects">
      <div className="muscode-Section-toolbar">
        <button
          type="button"
          className="jp-mod-styled jp-mod-accept muscode-Projects-new"
          onClick={() => void create()}
          disabled={busy}
        >
          {trans.__('New project')}
        </button>
        <IconButton
          icon={refreshIcon}
          label={trans.__('Refresh the projects')}
          onClick={() => void load()}
        />
        <label className="muscode-Projects-showDeleted">
          <input
            type="checkbox"
            checked={showDeleted}
            onChange={e => setShowDeleted(e.currentTarget.checked)}
          />
          {trans.__('Show deleted')}
        </label>
      </div>
      {error && (
        <div className="muscode-Error" role="alert">
          {error}
        </div>
      )}
      {projects === null && !error && <p className="muscode-Empty">{trans.__('Loading…')}</p>}
      {projects !== null && !live.length && (
        <p className="muscode-Empty">
          {trans.__('No projects yet: press "New project" to make one.')}
        </p>
      )}
      <ul className="muscode-List" aria-label={trans.__('My projects')}>
        {live.map(p => (
          <li key={p.id} className="muscode-Project" data-project={p.name}>
            <button
              type="button"
              className="muscode-Project-open"
              title={trans.__('Show the files of %1', p.name)}
              onClick={() => void act(() => props.onOpen(p))}
            >
              <folderIcon.react tag="span" elementSize="normal" />
              <span className="muscode-Project-name">{p.name}</span>
            </button>
            <span className="muscode-Badge">{languageName(p.language)}</span>
            <span className="muscode-Project-actions">
              <IconButton
                icon={addIcon}
                className="muscode-Project-newFile"
                label={trans.__('New file in %1', p.name)}
                onClick={() => void act(() => props.onNewFile(p))}
                disabled={busy}
              />
              <IconButton
                icon={editIcon}
                className="muscode-Project-rename"
                label={trans.__('Rename %1', p.name)}
                onClick={() => void rename(p)}
                disabled={busy}
              />
              <IconButton
                icon={deleteIcon}
                className="muscode-Project-delete"
                label={trans.__('Delete %1', p.name)}
                onClick={() => void remove(p)}
                disabled={busy}
              />
            </span>
          </li>
        ))}
      </ul>
      {showDeleted && (
        <>
          <h3 className="muscode-Subheading">{trans.__('Deleted projects')}</h3>
          {!deleted.length && <p className="muscode-Empty">{trans.__('None.')}</p>}
          <ul className="muscode-List" aria-label={trans.__('Deleted projects')}>
            {deleted.map(p => (
              <li key={p.id} className="muscode-Project muscode-mod-deleted" data-project={p.name}>
                <span className="muscode-Project-name">{p.name}</span>
                <span className="muscode-Badge">{languageName(p.language)}</span>
                <span className="muscode-Project-actions">
                  <IconButton
                    icon={undoIcon}
                    className="muscode-Project-restore"
                    label={trans.__('Restore %1', p.name)}
                    onClick={() => void act(() => drive.restoreProject(p))}
                    disabled={busy}
                  />
                </span>
              </li>
            ))}
          </ul>
        </>
      )}
    </div>
  );
}

// -- classes and assignments ---------------------------------------------------------

export interface IClassesProps {
  client: () => MuscodeClient;
  trans: TranslationBundle;
  me: () => Me | null;
  serverChanged: ISignal<object, void>;
  onOpenProject: (project: Project) => Promise<void>;
}

type Load<T> =
  | { state: 'loading' }
  | { state: 'unavailable' }
  | { state: 'error'; message: string }
  | { state: 'ready'; value: T };

async function load<T>(what: () => Promise<T>): Promise<Load<T>> {
  try {
    return { state: 'ready', value: await what() };
  } catch (err) {
    if (err instanceof MuscodeAPIError && err.status === 404) {
      return { state: 'unavailable' };
    }
    return { state: 'error', message: describeError(err) };
  }
}

function ClassesView(props: IClassesProps): JSX.Element {
  const { trans } = props;
  const [classes, setClasses] = React.useState<Load<Class[]>>({ state: 'loading' });
  const [open, setOpen] = React.useState<string | null>(null);
  const [asked, setAsked] = React.useState(0);
  const server = useSignal(props.serverChanged);

  React.useEffect(() => {
    let live = true;
    void load(() => props.client().listClasses()).then(r => live && setClasses(r));
    return () => {
      live = false;
    };
  }, [server, asked]);

  const refresh = (
    <div className="muscode-Section-toolbar">
      <IconButton
        icon={refreshIcon}
        className="muscode-Classes-refresh"
        label={trans.__('Refresh the classes')}
        onClick={() => setAsked(n => n + 1)}
      />
    </div>
  );

  const renderBody = (): JSX.Element => {
    if (classes.state === 'loading') {
      return <p className="muscode-Empty">{trans.__('Loading…')}</p>;
    }
    if (classes.state === 'unavailable') {
      return (
        <p className="muscode-Empty muscode-Classes-unavailable">
          {trans.__(
            'Classes and assignments are not available on this MUSCode server yet. Your projects work as usual.'
          )}
        </p>
      );
    }
    if (classes.state === 'error') {
      return (
        <div className="muscode-Error" role="alert">
          {classes.message}
        </div>
      );
    }
    if (!classes.value.length) {
      return <p className="muscode-Empty">{trans.__('You are not in any class yet.')}</p>;
    }
    const roles = new Map((props.me()?.classes ?? []).map(c => [c.id, c.role]));
    return (
      <ul className="muscode-List muscode-Classes" aria-label={trans.__('My classes')}>
        {classes.value.map(c => {
          const expanded = open === c.id;
          const role = c.role ?? roles.get(c.id) ?? null;
          return (
            <li key={c.id} className="muscode-Class" data-class={c.slug}>
              <button
                type="button"
                className="muscode-Class-toggle"
                aria-expanded={expanded}
                onClick={() => setOpen(expanded ? null : c.id)}
              >
                <span className="muscode-Class-name">{c.name}</span>
                {c.term && <span className="muscode-Badge">{c.term}</span>}
                {role && role !== 'student' && (
                  <span className="muscode-Badge">
                    {role === 'instructor' ? trans.__('instructor') : trans.__('TA')}
                  </span>
                )}
              </button>
              {expanded && <AssignmentsView {...props} klass={c} />}
            </li>
          );
        })}
      </ul>
    );
  };

  return (
    <div className="muscode-ClassesView">
      {refresh}
      {renderBody()}
    </div>
  );
}

function formatDue(trans: TranslationBundle, due: string | null | undefined): string {
  if (!due) {
    return trans.__('no due date');
  }
  const when = new Date(due);
  if (Number.isNaN(when.getTime())) {
    return due;
  }
  return trans.__('due %1', when.toLocaleString());
}

function scoreText(s: { score?: number | null; max_score?: number | null }): string {
  if (s.score === null || s.score === undefined) {
    return '';
  }
  return s.max_score !== null && s.max_score !== undefined
    ? `${s.score} / ${s.max_score}`
    : String(s.score);
}

function AssignmentsView(props: IClassesProps & { klass: Class }): JSX.Element {
  const { trans, klass } = props;
  const [assignments, setAssignments] = React.useState<Load<Assignment[]>>({
    state: 'loading'
  });
  const [results, setResults] = React.useState<Record<string, Submission[]>>({});
  const [checks, setChecks] = React.useState<Record<string, Execution>>({});
  const [messages, setMessages] = React.useState<Record<string, string>>({});
  const [busy, setBusy] = React.useState<string | null>(null);

  const reload = React.useCallback(async () => {
    setAssignments(await load(() => props.client().listAssignments(klass.id)));
  }, [klass.id]);

  React.useEffect(() => {
    void reload();
  }, [reload]);

  const act = async (a: Assignment, what: () => Promise<string | void>) => {
    setBusy(a.id);
    try {
      const message = await what();
      setMessages(m => ({ ...m, [a.id]: message ?? '' }));
    } catch (err) {
      const message =
        err instanceof MuscodeAPIError && err.status === 404
          ? trans.__('This MUSCode server cannot do that yet (the endpoint is missing).')
          : describeError(err);
      setMessages(m => ({ ...m, [a.id]: message }));
    } finally {
      setBusy(null);
    }
  };

  const start = async (a: Assignment): Promise<Project> => {
    const project = await props.client().startAssignment(a.id);
    return project;
  };

  /** Run the visible tests on the saved project ("check" before submitting). */
  const check = async (a: Assignment, tests: AssignmentTest[]): Promise<string> => {
    const client = props.client();
    const projectId = a.project_id ?? (await start(a)).id;
    const reply = await client.createExecution(
      {
        language: a.language,
        project_id: projectId,
        tests: tests.map(t => ({
          name: t.name,
          stdin: t.stdin ?? '',
          expected_output: t.expected_output ?? null
        }))
      },
      { wait: true, timeout: 120 }
    );
    let run = reply.body;
    for (let i = 0; run.status !== 'done' && i < 120; i++) {
      await new Promise(resolve => setTimeout(resolve, 1000));
      run = await client.getExecution(run.id);
    }
    setChecks(c => ({ ...c, [a.id]: run }));
    const passed = (run.tests ?? []).filter(t => t.verdict === 'accepted').length;
    return trans.__('%1 of %2 visible tests pass.', String(passed), String(tests.length));
  };

  if (assignments.state === 'loading') {
    return <p className="muscode-Empty">{trans.__('Loading…')}</p>;
  }
  if (assignments.state === 'unavailable') {
    return (
      <p className="muscode-Empty">
        {trans.__('Assignments are not available on this MUSCode server yet.')}
      </p>
    );
  }
  if (assignments.state === 'error') {
    return (
      <div className="muscode-Error" role="alert">
        {assignments.message}
      </div>
    );
  }
  if (!assignments.value.length) {
    return <p className="muscode-Empty">{trans.__('No assignments yet.')}</p>;
  }
  return (
    <ul
      className="muscode-List muscode-Assignments"
      aria-label={trans.__('Assignments of %1', klass.name)}
    >
      {assignments.value.map(a => {
        const subs = results[a.id];
        const latest = subs && subs.length ? subs[subs.length - 1] : null;
        const score = latest ? scoreText(latest) : scoreText(a);
        const visible = (a.tests ?? []).filter(t => !t.hidden);
        const checked = checks[a.id];
        return (
          <li key={a.id} className="muscode-Assignment" data-assignment={a.title}>
            <div className="muscode-Assignment-head">
              <span className="muscode-Assignment-title">{a.title}</span>
              <span className="muscode-Assignment-due">{formatDue(trans, a.due_at)}</span>
              {a.published === false && <span className="muscode-Badge">{trans.__('draft')}</span>}
              {a.status && <span className="muscode-Badge">{a.status}</span>}
              {score && (
                <span className="muscode-Assignment-score">{trans.__('score %1', score)}</span>
              )}
            </div>
            {a.description && <p className="muscode-Assignment-description">{a.description}</p>}
            <div className="muscode-Assignment-actions">
              <button
                type="button"
                className="jp-mod-styled muscode-Assignment-start"
                disabled={busy === a.id}
                onClick={() =>
                  void act(a, async () => {
                    const project = await start(a);
                    await props.onOpenProject(project);
                    return trans.__('Your project "%1" is open in the files below.', project.name);
                  })
                }
              >
                {a.project_id ? trans.__('Open') : trans.__('Start')}
              </button>
              {visible.length > 0 && (
                <button
                  type="button"
                  className="jp-mod-styled muscode-Assignment-check"
                  disabled={busy === a.id}
                  title={trans.__('Run the visible tests on your saved project')}
                  onClick={() => void act(a, () => check(a, visible))}
                >
                  {trans.__('Check')}
                </button>
              )}
              <button
                type="button"
                className="jp-mod-styled jp-mod-accept muscode-Assignment-submit"
                disabled={busy === a.id}
                onClick={() =>
                  void act(a, async () => {
                    const ok = await confirm(
                      trans,
                      trans.__('Submit "%1"', a.title),
                      trans.__(
                        'Submit your project as it is saved now? It is graded by running the tests.'
                      ),
                      trans.__('Submit')
                    );
                    if (!ok) {
                      return;
                    }
                    const projectId = a.project_id ?? (await start(a)).id;
                    const submission = await props.client().submit(a.id, projectId);
                    setResults(r => ({ ...r, [a.id]: [...(r[a.id] ?? []), submission] }));
                    return trans.__('Submitted.');
                  })
                }
              >
                {trans.__('Submit')}
              </button>
              <button
                type="button"
                className="jp-mod-styled muscode-Assignment-results"
                disabled={busy === a.id}
                onClick={() =>
                  void act(a, async () => {
                    const list = await props.client().listSubmissions(a.id);
                    setResults(r => ({ ...r, [a.id]: list }));
                    return list.length ? '' : trans.__('No submissions yet.');
                  })
                }
              >
                {trans.__('Results')}
              </button>
            </div>
            {messages[a.id] && (
              <p className="muscode-Assignment-message" role="status">
                {messages[a.id]}
              </p>
            )}
            {checked && (
              <table className="muscode-Submission-tests" aria-label={trans.__('Check results')}>
                <tbody>
                  {(checked.tests ?? []).map(t => (
                    <tr key={t.name}>
                      <td>{t.name}</td>
                      <td className={`muscode-verdict-${t.verdict ?? 'none'}`}>
                        {verdictLabel(trans, t.verdict)}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
            {latest && <SubmissionView trans={trans} submission={latest} />}
          </li>
        );
      })}
    </ul>
  );
}

function SubmissionView(props: { trans: TranslationBundle; submission: Submission }): JSX.Element {
  const { trans, submission: s } = props;
  return (
    <div className="muscode-Submission" aria-label={trans.__('Latest submission')}>
      <p>
        {s.status === 'done' || s.score !== undefined
          ? trans.__('Score: %1', scoreText(s) || '–')
          : trans.__('Grading…')}
        {s.late ? ` ${trans.__('(late)')}` : ''}
      </p>
      {s.tests && s.tests.length > 0 && (
        <table className="muscode-Submission-tests">
          <thead>
            <tr>
              <th scope="col">{trans.__('Test')}</th>
              <th scope="col">{trans.__('Result')}</th>
              <th scope="col">{trans.__('Points')}</th>
            </tr>
          </thead>
          <tbody>
            {s.tests.map(t => (
              <tr key={t.name}>
                <td>{t.hidden ? trans.__('%1 (hidden)', t.name) : t.name}</td>
                <td className={`muscode-verdict-${t.verdict ?? 'none'}`}>
                  {t.hidden
                    ? t.verdict === 'accepted'
                      ? trans.__('passed')
                      : trans.__('failed')
                    : verdictLabel(trans, t.verdict)}
                </td>
                <td>
                  {t.points ?? '–'}
                  {t.max_points !== undefined && t.max_points !== null ? ` / ${t.max_points}` : ''}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

// -- the panel ---------------------------------------------------------------------------

export interface IMuscodePanelOptions extends IProjectsProps {
  client: () => MuscodeClient;
  me: () => Me | null;
  status: () => string;
  /** The file browser of the MUSCode drive. */
  browser: Widget;
}

export class MuscodePanel extends SidePanel {
  constructor(options: IMuscodePanelOptions) {
    super();
    const { trans } = options;
    this.id = 'muscode-sidepanel';
    this.addClass('muscode-SidePanel');
    this.title.icon = muscodeIcon;
    this.title.caption = trans.__('MUSCode');

    const header = ReactWidget.create(
      <Header status={options.status} serverChanged={options.serverChanged} trans={trans} />
    );
    header.addClass('muscode-Header');
    this.header.addWidget(header);

    const projects = ReactWidget.create(<ProjectsView {...options} />);
    projects.addClass('muscode-Section');
    projects.title.label = trans.__('Projects');
    this.addWidget(projects);

    options.browser.title.label = trans.__('Files');
    options.browser.addClass('muscode-Files');
    this.addWidget(options.browser);

    const classes = ReactWidget.create(
      <ClassesView
        client={options.client}
        trans={trans}
        me={options.me}
        serverChanged={options.serverChanged}
        onOpenProject={options.onOpen}
      />
    );
    classes.addClass('muscode-Section');
    classes.title.label = trans.__('Classes');
    this.addWidget(classes);
  }
}

function Header(props: {
  status: () => string;
  serverChanged: ISignal<object, void>;
  trans: TranslationBundle;
}): JSX.Element {
  useSignal(props.serverChanged);
  return (
    <div>
      <h2 className="muscode-Header-title">{props.trans.__('MUSCode')}</h2>
      <p className="muscode-Header-status" role="status">
        {props.status()}
      </p>
    </div>
  );
}
