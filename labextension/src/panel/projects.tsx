/**
 * The Projects section of the side panel: my projects (create, open, add a file,
 * rename, delete), and the deleted ones to restore.
 */
import { TranslationBundle } from '@jupyterlab/translation';
import {
  addIcon,
  deleteIcon,
  editIcon,
  folderIcon,
  refreshIcon,
  undoIcon
} from '@jupyterlab/ui-components';
import { ISignal } from '@lumino/signaling';
import * as React from 'react';

import type { LanguageCatalog } from '../client/languages';
import type { MuscodeDrive } from '../drive/drive';
import { describeError } from '../request';
import type { Project } from '../types';
import { askText, confirm } from '../ui/dialogs';
import { IconButton, useSignalCount } from '../ui/react';
import { askNewProject } from './newproject';

export interface IProjectsProps {
  drive: MuscodeDrive;
  trans: TranslationBundle;
  catalog: () => LanguageCatalog;
  defaultLanguage: () => string;
  serverChanged: ISignal<object, void>;
  onOpen: (project: Project) => Promise<void>;
  onNewFile: (project: Project) => Promise<void>;
}

export function ProjectsView(props: IProjectsProps): JSX.Element {
  const { drive, trans } = props;
  const [projects, setProjects] = React.useState<Project[] | null>(null);
  const [showDeleted, setShowDeleted] = React.useState(false);
  const [error, setError] = React.useState<string | null>(null);
  const [busy, setBusy] = React.useState(false);
  const changes = useSignalCount(drive.projectsChanged);
  const server = useSignalCount(props.serverChanged);

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
