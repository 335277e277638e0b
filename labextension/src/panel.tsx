/**
 * The MUSCode side panel: my projects (create, open, add a file, rename, delete,
 * restore), the files of the MUSCode drive, and my classes with their assignments.
 */
import { TranslationBundle } from '@jupyterlab/translation';
import {
  addIcon,
  editIcon,
  folderIcon,
  listIcon,
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

import { isPastDue, isStaff, scoreText, studentStatus } from './assignments';
import { dueText, IAssignmentContext, statusLabel } from './assignmentviews';
import { askNewProject, askText, confirm } from './dialogs';
import { MuscodeDrive } from './drive';
import { muscodeIcon } from './icons';
import { MuscodeAPIError } from './request';
import { describeError, LanguageCatalog } from './runner';
import type { Assignment, Class, EventNotice, Project } from './types';

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
  ctx: IAssignmentContext;
  serverChanged: ISignal<object, void>;
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
  const { ctx } = props;
  const { trans } = ctx;
  const [classes, setClasses] = React.useState<Load<Class[]>>({ state: 'loading' });
  const [open, setOpen] = React.useState<string | null>(null);
  const [asked, setAsked] = React.useState(0);
  const server = useSignal(props.serverChanged);

  React.useEffect(() => {
    let live = true;
    void load(() => ctx.client().listClasses()).then(r => live && setClasses(r));
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
    const roles = new Map((ctx.me()?.classes ?? []).map(c => [c.id, c.role]));
    return (
      <ul className="muscode-List muscode-Classes" aria-label={trans.__('My classes')}>
        {classes.value.map(c => {
          const expanded = open === c.id;
          const role = c.role ?? roles.get(c.id) ?? null;
          const klass = { ...c, role };
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
              {expanded && <AssignmentsView ctx={ctx} klass={klass} />}
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

/** A class's assignments in the panel; each opens in the main area. */
function AssignmentsView(props: { ctx: IAssignmentContext; klass: Class }): JSX.Element {
  const { ctx, klass } = props;
  const { trans } = ctx;
  const [assignments, setAssignments] = React.useState<Load<Assignment[]>>({
    state: 'loading'
  });
  const staff = isStaff(klass.role, ctx.me());

  const reload = React.useCallback(async () => {
    setAssignments(await load(() => ctx.client().listAssignments(klass.id)));
  }, [klass.id]);

  React.useEffect(() => {
    void reload();
  }, [reload]);

  // Lists follow what the editor saved and what graders did.
  React.useEffect(() => {
    const changed = (_: object, classId: string) => {
      if (classId === klass.id) {
        void reload();
      }
    };
    const notice = (_: unknown, n: EventNotice) => {
      if (n.type === 'submission' || (n.type === 'regrade' && n.pending === 0)) {
        void reload();
      }
    };
    ctx.changed.connect(changed);
    ctx.feed.notice.connect(notice);
    return () => {
      ctx.changed.disconnect(changed);
      ctx.feed.notice.disconnect(notice);
    };
  }, [reload]);

  const staffTools = staff && (
    <div
      className="muscode-Class-tools"
      role="toolbar"
      aria-label={trans.__('Staff tools of %1', klass.name)}
    >
      <button
        type="button"
        className="jp-mod-styled muscode-Class-newAssignment"
        onClick={() =>
          ctx.open({ kind: 'editor', klass, assignmentId: null, title: trans.__('New assignment') })
        }
      >
        {trans.__('New assignment')}
      </button>
      <button
        type="button"
        className="jp-mod-styled muscode-Class-roster"
        onClick={() => ctx.open({ kind: 'roster', klass })}
      >
        {trans.__('Roster')}
      </button>
      <button
        type="button"
        className="jp-mod-styled muscode-Class-grades"
        disabled={!ctx.capabilities().grades}
        onClick={() => ctx.open({ kind: 'gradebook', klass })}
      >
        {trans.__('Grades')}
      </button>
    </div>
  );

  const body = (): JSX.Element => {
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
          const role = a.role ?? klass.role;
          const asStudent = role === 'student';
          const status = studentStatus(a);
          const score = scoreText(a.my.best_score, a.max_score);
          const late = isPastDue(a);
          return (
            <li
              key={a.id}
              className="muscode-Assignment"
              data-assignment={a.title}
              data-status={asStudent ? status : undefined}
            >
              <button
                type="button"
                className="muscode-Assignment-open"
                title={trans.__('Open %1', a.title)}
                onClick={() =>
                  ctx.open(
                    asStudent || !staff
                      ? { kind: 'assignment', assignmentId: a.id, title: a.title }
                      : { kind: 'submissions', klass, assignmentId: a.id, title: a.title }
                  )
                }
              >
                <span className="muscode-Assignment-title">{a.title}</span>
                <span className={`muscode-Assignment-due ${late ? 'muscode-mod-late' : ''}`}>
                  {dueText(trans, a.due_at)}
                </span>
              </button>
              <span className="muscode-Assignment-badges">
                {!a.published && <span className="muscode-Badge">{trans.__('draft')}</span>}
                {asStudent && (
                  <span className="muscode-Badge muscode-Assignment-status">
                    {statusLabel(trans, status)}
                  </span>
                )}
                {asStudent && score && (
                  <span className="muscode-Assignment-score">{trans.__('score %1', score)}</span>
                )}
              </span>
              {staff && (
                <span className="muscode-Assignment-staff">
                  <IconButton
                    icon={editIcon}
                    className="muscode-Assignment-edit"
                    label={trans.__('Edit %1', a.title)}
                    onClick={() =>
                      ctx.open({ kind: 'editor', klass, assignmentId: a.id, title: a.title })
                    }
                  />
                  <IconButton
                    icon={listIcon}
                    className="muscode-Assignment-submissions"
                    label={trans.__('Submissions of %1', a.title)}
                    onClick={() =>
                      ctx.open({ kind: 'submissions', klass, assignmentId: a.id, title: a.title })
                    }
                  />
                </span>
              )}
            </li>
          );
        })}
      </ul>
    );
  };

  return (
    <div className="muscode-Class-body">
      {staffTools}
      {body()}
    </div>
  );
}

// -- the panel ---------------------------------------------------------------------------

export interface IMuscodePanelOptions extends IProjectsProps {
  assignments: IAssignmentContext;
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
      <ClassesView ctx={options.assignments} serverChanged={options.serverChanged} />
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
