/**
 * Per-student extensions of an assignment's due date (staff): the list, a new one or
 * a changed one, and withdrawing one.
 */
import * as React from 'react';

import type { Extension } from '../types';
import type { IAssignmentContext } from './context';
import { TextField } from './fields';
import { useResource } from './hooks';
import { fromLocalInput } from './model';
import { ErrorBox, formatWhen, Note, TableHead } from './parts';

export function ExtensionsSection(props: {
  ctx: IAssignmentContext;
  classId: string;
  assignmentId: string;
}): JSX.Element {
  const { ctx, classId, assignmentId } = props;
  const { trans } = ctx;
  const [student, setStudent] = React.useState('');
  const [due, setDue] = React.useState('');
  const [students, setStudents] = React.useState<string[]>([]);
  const list = useResource<Extension[]>(
    () => ctx.client().listExtensions(assignmentId),
    [assignmentId]
  );
  const { value: extensions, act, reload, setNote } = list;
  const busy = list.busy !== null;

  React.useEffect(() => {
    let live = true;
    void ctx
      .client()
      .listMembers(classId)
      .then(ms => live && setStudents(ms.filter(m => m.role === 'student').map(m => m.name)))
      .catch(() => undefined);
    return () => {
      live = false;
    };
  }, [classId]);

  const give = () =>
    act(async () => {
      const who = student.trim();
      if (!who) {
        throw new Error(trans.__('Type the user name of the student.'));
      }
      const dueAt = fromLocalInput(due);
      if (!dueAt) {
        throw new Error(trans.__('Give the new due date.'));
      }
      await ctx.client().setExtension(assignmentId, who, dueAt);
      setStudent('');
      await reload();
      setNote(trans.__('%1 is now due %2.', who, formatWhen(dueAt)));
    });

  const withdraw = (e: Extension) =>
    act(async () => {
      await ctx.client().deleteExtension(assignmentId, e.student);
      await reload();
      setNote(trans.__('Withdrew the extension of %1.', e.student));
    });

  const listId = `muscode-extension-students-${assignmentId}`;
  return (
    <section className="muscode-Extensions" aria-label={trans.__('Extensions')}>
      <h3>{trans.__('Extensions of the due date')}</h3>
      <ErrorBox message={list.error} />
      <Note text={list.note} />
      {extensions !== null && !extensions.length && (
        <p className="muscode-Empty">{trans.__('No student has an extension.')}</p>
      )}
      {extensions !== null && extensions.length > 0 && (
        <table className="muscode-Table muscode-Extensions-table">
          <TableHead
            columns={[
              trans.__('Student'),
              trans.__('Due'),
              trans.__('Granted by'),
              trans.__('Actions')
            ]}
          />
          <tbody>
            {extensions.map(e => (
              <tr key={e.student} data-student={e.student}>
                <th scope="row">{e.student}</th>
                <td>{formatWhen(e.due_at)}</td>
                <td>{e.granted_by}</td>
                <td>
                  <button
                    type="button"
                    className="jp-mod-styled muscode-Extensions-remove"
                    aria-label={trans.__('Withdraw the extension of %1', e.student)}
                    disabled={busy}
                    onClick={() => void withdraw(e)}
                  >
                    {trans.__('Withdraw')}
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <div className="muscode-Editor-row muscode-Extensions-add">
        <TextField
          label={trans.__('Student')}
          className="muscode-Extensions-student"
          value={student}
          onValue={setStudent}
        >
          {c => <input {...c} type="text" list={listId} />}
        </TextField>
        <datalist id={listId}>
          {students.map(s => (
            <option key={s} value={s} />
          ))}
        </datalist>
        <TextField
          label={trans.__('Their due date (your local time)')}
          className="muscode-Extensions-due"
          value={due}
          onValue={setDue}
        >
          {c => <input {...c} type="datetime-local" />}
        </TextField>
        <button
          type="button"
          className="jp-mod-styled jp-mod-accept muscode-Extensions-give"
          disabled={busy}
          onClick={() => void give()}
        >
          {trans.__('Give extension')}
        </button>
      </div>
    </section>
  );
}
