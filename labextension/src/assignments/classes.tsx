/**
 * The Classes section of the side panel: my classes, each with its assignments (my
 * status and best score as a student; the staff tools as a TA or instructor), a new
 * class (admins and instructors), and a class's title, term and archiving.
 */
import { addIcon, editIcon, listIcon, refreshIcon } from '@jupyterlab/ui-components';
import { ISignal } from '@lumino/signaling';
import * as React from 'react';

import { describeError, MuscodeAPIError } from '../request';
import type { Assignment, Class, ClassCreate, EventNotice } from '../types';
import { IconButton, useSignalCount } from '../ui/react';
import type { IAssignmentContext } from './context';
import { askClass, confirmArchive, SLUG_PATTERN } from './classform';
import { canDelete, isPastDue, isStaff, scoreText, studentStatus } from './model';
import { dueText, statusLabel } from './parts';

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

export function ClassesView(props: IClassesProps): JSX.Element {
  const { ctx } = props;
  const { trans } = ctx;
  const [classes, setClasses] = React.useState<Load<Class[]>>({ state: 'loading' });
  const [open, setOpen] = React.useState<string | null>(null);
  const [asked, setAsked] = React.useState(0);
  const server = useSignalCount(props.serverChanged);
  const [message, setMessage] = React.useState<{ error: boolean; text: string } | null>(null);
  const me = ctx.me();
  const mayCreate = (me?.admin ?? false) || (me?.scopes ?? []).includes('classes:write');

  /** A class body the server will take, or a sentence saying what to fix. */
  const checkClass = (body: ClassCreate, isNew: boolean): string | null => {
    if (!body.name) {
      return trans.__('Give the class a title.');
    }
    if (isNew && !SLUG_PATTERN.test(body.slug)) {
      return trans.__(
        'The short name "%1" may have only lowercase letters, digits and dashes (not at either end), 64 at most.',
        body.slug
      );
    }
    return null;
  };

  const createClass = async () => {
    const body = await askClass(trans, null);
    if (!body) {
      return;
    }
    const problem = checkClass(body, true);
    if (problem) {
      setMessage({ error: true, text: problem });
      return;
    }
    try {
      const made = await ctx.client().createClass(body);
      setMessage({ error: false, text: trans.__('Created the class %1.', made.name) });
      setOpen(made.id);
      setAsked(n => n + 1);
    } catch (err) {
      setMessage({ error: true, text: describeError(err) });
    }
  };

  const editClass = async (klass: Class) => {
    const body = await askClass(trans, klass);
    if (!body) {
      return;
    }
    const problem = checkClass(body, false);
    if (problem) {
      setMessage({ error: true, text: problem });
      return;
    }
    try {
      const changed = await ctx
        .client()
        .updateClass(klass.id, { name: body.name, term: body.term ?? '' });
      setMessage({ error: false, text: trans.__('Saved the class %1.', changed.name) });
      setAsked(n => n + 1);
    } catch (err) {
      setMessage({ error: true, text: describeError(err) });
    }
  };

  const archiveClass = async (klass: Class) => {
    if (!(await confirmArchive(trans, klass))) {
      return;
    }
    try {
      await ctx.client().updateClass(klass.id, { archived: true });
      setMessage({ error: false, text: trans.__('Archived the class %1.', klass.name) });
      setOpen(null);
      setAsked(n => n + 1);
    } catch (err) {
      setMessage({ error: true, text: describeError(err) });
    }
  };

  React.useEffect(() => {
    let live = true;
    void load(() => ctx.client().listClasses()).then(r => live && setClasses(r));
    return () => {
      live = false;
    };
  }, [server, asked]);

  const refresh = (
    <div className="muscode-Section-toolbar">
      {mayCreate && (
        <IconButton
          icon={addIcon}
          className="muscode-Classes-new"
          label={trans.__('New class')}
          onClick={() => void createClass()}
        />
      )}
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
              {expanded && (
                <AssignmentsView
                  ctx={ctx}
                  klass={klass}
                  onEdit={() => void editClass(klass)}
                  onArchive={() => void archiveClass(klass)}
                />
              )}
            </li>
          );
        })}
      </ul>
    );
  };

  return (
    <div className="muscode-ClassesView">
      {refresh}
      {message && (
        <p
          className={message.error ? 'muscode-Error' : 'muscode-Note'}
          role={message.error ? 'alert' : 'status'}
        >
          {message.text}
        </p>
      )}
      {renderBody()}
    </div>
  );
}

/** A class's assignments in the panel; each opens in the main area. */
function AssignmentsView(props: {
  ctx: IAssignmentContext;
  klass: Class;
  onEdit: () => void;
  onArchive: () => void;
}): JSX.Element {
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
      {canDelete(klass.role, ctx.me()) && (
        <>
          <button
            type="button"
            className="jp-mod-styled muscode-Class-edit"
            aria-label={trans.__('Edit the class %1', klass.name)}
            onClick={props.onEdit}
          >
            {trans.__('Edit class')}
          </button>
          <button
            type="button"
            className="jp-mod-styled muscode-Class-archive"
            aria-label={trans.__('Archive the class %1', klass.name)}
            onClick={props.onArchive}
          >
            {trans.__('Archive')}
          </button>
        </>
      )}
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
