/**
 * The roster of a class (staff): members and roles, add one, remove one, and import
 * a CSV: good lines are applied, each refused line is named.
 */
import * as React from 'react';

import { describeError, MuscodeAPIError } from '../request';
import type { Class, ClassRole, Member } from '../types';
import { confirm } from '../ui/dialogs';
import type { IAssignmentContext } from './context';
import { Field, TextField } from './fields';
import { useResource } from './hooks';
import { canDelete, ILineError, rosterErrors } from './model';
import { ErrorBox, Note, TableHead } from './parts';

export function RosterView(props: { ctx: IAssignmentContext; klass: Class }): JSX.Element {
  const { ctx, klass } = props;
  const { trans } = ctx;
  const [name, setName] = React.useState('');
  const [role, setRole] = React.useState<ClassRole>('student');
  const [csv, setCsv] = React.useState('name,role\n');
  const [lineErrors, setLineErrors] = React.useState<ILineError[]>([]);
  const mayRemove = canDelete(klass.role, ctx.me());
  const roster = useResource(() => ctx.client().listMembers(klass.id), [klass.id]);
  const { value: members, setValue: setMembers, setNote, act, reload } = roster;
  const busy = roster.busy !== null;

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

  const importCsv = () =>
    act(
      async () => {
        setLineErrors([]);
        const imported = await ctx.client().importRoster(klass.id, csv);
        // Good lines are applied even when others are wrong: show both.
        setLineErrors(imported.errors.map(e => ({ line: e.line, message: e.message })));
        await reload();
        setNote(
          trans.__(
            'Imported: %1 added, %2 changed, %3 unchanged.',
            String(imported.added.length),
            String(imported.updated.length),
            String(imported.unchanged.length)
          )
        );
        ctx.changed.emit(klass.id);
      },
      {
        failed: err => {
          setLineErrors(rosterErrors(err));
          return err instanceof MuscodeAPIError && err.status === 422
            ? trans.__('Nothing was imported: fix these lines and import again.')
            : describeError(err);
        }
      }
    );

  // instructors and admins change roles; a TA sees them
  const mayChange = mayRemove;
  const changeRole = (m: Member, next: ClassRole) =>
    act(async () => {
      const changed = await ctx.client().updateMember(klass.id, m.name, { role: next });
      setMembers(ms => ms && ms.map(x => (x.name === changed.name ? changed : x)));
      setNote(trans.__('%1 is now %2.', m.name, roleLabel(changed.role)));
      ctx.changed.emit(klass.id);
    });

  const roleLabel = (r: ClassRole) =>
    r === 'instructor' ? trans.__('instructor') : r === 'ta' ? trans.__('TA') : trans.__('student');

  return (
    <div className="muscode-Roster-view">
      <header className="muscode-View-header">
        <h2>{trans.__('Roster of %1', klass.name)}</h2>
      </header>
      <ErrorBox message={roster.error} />
      <Note text={roster.note} />
      {members === null && !roster.error && <p className="muscode-Empty">{trans.__('Loading…')}</p>}
      {members !== null && (
        <table className="muscode-Table muscode-Roster-table" aria-label={trans.__('Members')}>
          <TableHead
            columns={[trans.__('Name'), trans.__('Role'), mayRemove && trans.__('Actions')]}
          />
          <tbody>
            {members.map(m => (
              <tr key={m.name} data-member={m.name}>
                <th scope="row">{m.name}</th>
                <td>
                  {mayChange ? (
                    <select
                      className="jp-mod-styled muscode-Roster-memberRole"
                      aria-label={trans.__('Role of %1', m.name)}
                      value={m.role}
                      disabled={busy}
                      onChange={e => void changeRole(m, e.currentTarget.value as ClassRole)}
                    >
                      <option value="student">{trans.__('student')}</option>
                      <option value="ta">{trans.__('TA')}</option>
                      <option value="instructor">{trans.__('instructor')}</option>
                    </select>
                  ) : (
                    roleLabel(m.role)
                  )}
                </td>
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
            'A header line "name,role" (other columns are ignored), then one person per line; an empty role is student. Good lines are applied; bad ones are listed by line number.'
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
