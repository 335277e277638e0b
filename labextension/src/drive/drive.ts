/**
 * The MUSCode contents drive: projects are folders, project files are files.
 *
 * JupyterLab opens, edits and saves them with its own editors. Folders inside a
 * project exist as long as a file lives in them (the server stores paths, not
 * folders); an empty folder made in the file browser lives in this browser tab
 * until a file is saved in it.
 *
 * Every save sends the version the editor loaded; when the server answers 409
 * `stale_version` (someone saved a newer version), `resolveConflict` decides:
 * overwrite, reload, or keep editing. Nothing is overwritten without asking.
 */
import { PathExt } from '@jupyterlab/coreutils';
import { Contents } from '@jupyterlab/services';
import { ISignal, Signal } from '@lumino/signaling';

import type { MuscodeClient } from '../client/client';
import { MuscodeAPIError } from '../request';
import type { Encoding, FileMeta, Project, ProjectDetail } from '../types';
import { ClientDrive, downloadUrl } from './base';
import type { ConflictChoice, IConflict } from './conflict';
import { VirtualFolders } from './folders';
import {
  base64ToText,
  EMPTY_NOTEBOOK,
  encodeContent,
  fileMetaModel,
  folderEntries,
  folderMetaModel,
  isNotebookPath,
  projectModel,
  splitPath,
  uniqueName,
  withContent
} from './models';

/** Name of the contents drive: its paths look like `MUSCode:project/file.py`. */
export const DRIVE_NAME = 'MUSCode';

export interface IDriveOptions {
  client: MuscodeClient;
  name?: string;
  /** Language of a project made by "New Folder" at the top level. */
  defaultLanguage?: () => string;
  /** Ask the user what to do about a stale save. */
  resolveConflict: (conflict: IConflict) => Promise<ConflictChoice>;
  /** Reload the open documents of `path` from the server (after "reload"). */
  reload?: (path: string) => Promise<void>;
}

/** The cancel error JupyterLab's document context passes on without an error dialog. */
function cancelled(message: string): Error {
  const error = new Error(message);
  error.name = 'ModalCancelError';
  return error;
}

function driveError(status: number, message: string, reason: string): MuscodeAPIError {
  return new MuscodeAPIError(status, message, reason);
}

export class MuscodeDrive extends ClientDrive implements Contents.IDrive {
  constructor(options: IDriveOptions) {
    super(options.name ?? DRIVE_NAME, options.client);
    this._options = options;
  }

  /** Emitted when the list of projects may have changed. */
  get projectsChanged(): ISignal<this, void> {
    return this._projectsChanged;
  }

  /** The version of a file that the open editor holds, if any. */
  knownVersion(fileId: string): number | undefined {
    return this._versions.get(fileId);
  }

  // -- projects (also used by the side panel) -----------------------------------------

  /** The caller's projects, fresh from the server; `includeDeleted` adds deleted ones. */
  async listProjects(includeDeleted = false): Promise<Project[]> {
    const projects = await this.client.listProjects(
      includeDeleted ? { include_deleted: true } : {}
    );
    this._projects = new Map(projects.filter(p => p.deleted_at === null).map(p => [p.name, p]));
    return projects;
  }

  async createProject(name: string, language: string, description = ''): Promise<ProjectDetail> {
    const project = await this.client.createProject({ name, language, description });
    this._projects.set(project.name, project);
    this.emitProjectChange('new', null, project.name);
    return project;
  }

  async renameProject(project: Project, name: string): Promise<ProjectDetail> {
    const renamed = await this.client.updateProject(project.id, { name });
    this._projects.delete(project.name);
    this._projects.set(renamed.name, renamed);
    this.emitProjectChange('rename', project.name, renamed.name);
    return renamed;
  }

  async deleteProject(project: Project): Promise<void> {
    await this.client.deleteProject(project.id);
    this._projects.delete(project.name);
    this.emitProjectChange('delete', project.name, null);
  }

  async restoreProject(project: Project): Promise<ProjectDetail> {
    const restored = await this.client.restoreProject(project.id);
    this._projects.set(restored.name, restored);
    this.emitProjectChange('new', null, restored.name);
    return restored;
  }

  /**
   * A project made elsewhere (e.g. by starting an assignment) is now the caller's: the
   * drive knows it, and the file browser and project list show it.
   */
  addedProject(project: Project): void {
    if (!this._projects.has(project.name)) {
      this._projects.set(project.name, project);
      this.emitProjectChange('new', null, project.name);
    } else {
      this._projectsChanged.emit();
    }
  }

  /** The project named `name`, asking the server when it is not known yet. */
  async project(name: string): Promise<Project> {
    let project = this._projects.get(name);
    if (!project) {
      await this.listProjects();
      project = this._projects.get(name);
    }
    if (!project) {
      throw driveError(404, `There is no MUSCode project named "${name}"`, 'project_not_found');
    }
    return project;
  }

  /** Project and file of a drive path (`file` is undefined for a folder or a new path). */
  async locate(localPath: string): Promise<{
    project: Project;
    relPath: string;
    file: FileMeta | undefined;
    files: FileMeta[];
  }> {
    const [name, relPath] = splitPath(localPath);
    if (!name) {
      throw driveError(
        400,
        'The top level of the MUSCode drive holds projects, not files',
        'not_a_file'
      );
    }
    const project = await this.project(name);
    let files: FileMeta[];
    try {
      files = await this.client.listFiles(project.id);
    } catch (err) {
      if (err instanceof MuscodeAPIError && err.status === 404) {
        // renamed or deleted elsewhere: forget it and look again once
        this._projects.delete(name);
        const again = await this.project(name);
        files = await this.client.listFiles(again.id);
        return { project: again, relPath, file: files.find(f => f.path === relPath), files };
      }
      throw err;
    }
    return { project, relPath, file: files.find(f => f.path === relPath), files };
  }

  // -- Contents.IDrive ------------------------------------------------------------------

  async get(localPath: string, options: Contents.IFetchOptions = {}): Promise<Contents.IModel> {
    const [name, relPath] = splitPath(localPath);
    if (!name) {
      const projects = await this.listProjects();
      return {
        ...this.folderModel('', '', null),
        content: projects.map(p => projectModel(p))
      };
    }
    const { project, file, files } = await this.locate(localPath);
    if (file && options.type !== 'directory') {
      return this.fileModel(project, file, options);
    }
    const dir = relPath;
    const prefix = dir ? `${dir}/` : '';
    const inside = files.filter(f => f.path.startsWith(prefix));
    const virtual = this._virtual.under(project.id, dir);
    if (dir && !inside.length && !virtual.length) {
      throw driveError(
        404,
        `No file or folder "${relPath}" in project "${project.name}"`,
        'not_found'
      );
    }
    const children = folderEntries(
      inside,
      prefix,
      f => this.metaModel(project, f),
      (path, f) => this.folderModel(project.name, path, f.updated_at)
    );
    for (const d of virtual) {
      const rest = d.slice(prefix.length);
      if (!rest) {
        continue;
      }
      const sub = rest.split('/')[0];
      if (!children.has(sub)) {
        children.set(sub, this.folderModel(project.name, prefix + sub, project.updated_at));
      }
    }
    const model = dir
      ? this.folderModel(project.name, dir, project.updated_at)
      : projectModel(project);
    return {
      ...model,
      content: options.content === false ? null : Array.from(children.values())
    };
  }

  async getDownloadUrl(localPath: string): Promise<string> {
    const { project, file } = await this.locate(localPath);
    if (!file) {
      throw driveError(400, 'Only files can be downloaded', 'not_a_file');
    }
    return downloadUrl(this.client, project.id, file.id);
  }

  async newUntitled(options: Contents.ICreateOptions = {}): Promise<Contents.IModel> {
    const dirPath = options.path ?? '';
    const [name, dir] = splitPath(dirPath);
    const type = options.type ?? 'file';
    if (!name) {
      if (type !== 'directory') {
        throw driveError(
          400,
          'Files live inside projects: open a project folder first, or make a project',
          'not_in_project'
        );
      }
      const projects = await this.listProjects();
      const taken = new Set(projects.map(p => p.name));
      const projectName = uniqueName('Untitled Project', '', taken);
      const project = await this.createProject(projectName, this.defaultLanguage());
      return projectModel(project);
    }
    const { project, files } = await this.locate(dirPath);
    const prefix = dir ? `${dir}/` : '';
    const taken = new Set<string>();
    for (const f of files) {
      if (f.path.startsWith(prefix)) {
        taken.add(f.path.slice(prefix.length).split('/')[0]);
      }
    }
    for (const d of this._virtual.of(project.id)) {
      if (d.startsWith(prefix)) {
        taken.add(d.slice(prefix.length).split('/')[0]);
      }
    }
    if (type === 'directory') {
      const folder = uniqueName('Untitled Folder', '', taken);
      this._virtual.add(project.id, prefix + folder);
      const model = this.folderModel(project.name, prefix + folder, new Date().toISOString());
      this._fileChanged.emit({ type: 'new', oldValue: null, newValue: model });
      return model;
    }
    const ext = type === 'notebook' ? '.ipynb' : (options.ext ?? '.txt');
    const fileName = uniqueName('untitled', ext.startsWith('.') ? ext : `.${ext}`, taken);
    const content = isNotebookPath(fileName) ? JSON.stringify(EMPTY_NOTEBOOK, null, 1) : '';
    const created = await this.client.createFile(project.id, { path: prefix + fileName, content });
    this._versions.set(created.id, created.version);
    const model = this.metaModel(project, created);
    this._fileChanged.emit({ type: 'new', oldValue: null, newValue: model });
    return model;
  }

  async delete(localPath: string): Promise<void> {
    const [name, relPath] = splitPath(localPath);
    if (!relPath) {
      await this.deleteProject(await this.project(name));
      return;
    }
    const { project, file, files } = await this.locate(localPath);
    const targets = file ? [file] : files.filter(f => f.path.startsWith(`${relPath}/`));
    for (const f of targets) {
      await this.client.deleteFile(project.id, f.id);
      this._versions.delete(f.id);
    }
    const virtual = this._virtual.under(project.id, relPath);
    if (!targets.length && !virtual.length) {
      throw driveError(404, `No file or folder "${relPath}" in "${project.name}"`, 'not_found');
    }
    for (const d of virtual) {
      this._virtual.remove(project.id, d);
    }
    this._fileChanged.emit({ type: 'delete', oldValue: { path: localPath }, newValue: null });
  }

  async rename(oldLocalPath: string, newLocalPath: string): Promise<Contents.IModel> {
    const [oldName, oldRel] = splitPath(oldLocalPath);
    const [newName, newRel] = splitPath(newLocalPath);
    if (!oldRel && !newRel) {
      const renamed = await this.renameProject(await this.project(oldName), newName);
      return projectModel(renamed);
    }
    if (oldName !== newName || !oldRel || !newRel) {
      throw driveError(
        400,
        'Files can be moved only inside their project; copy them to another project instead',
        'cross_project_move'
      );
    }
    const { project, file, files } = await this.locate(oldLocalPath);
    let model: Contents.IModel;
    if (file) {
      const moved = await this.moveFile(project, file, newRel);
      model = this.metaModel(project, moved);
    } else {
      const under = files.filter(f => f.path.startsWith(`${oldRel}/`));
      const virtual = this._virtual.under(project.id, oldRel);
      if (!under.length && !virtual.length) {
        throw driveError(404, `No file or folder "${oldRel}" in "${project.name}"`, 'not_found');
      }
      for (const f of under) {
        await this.moveFile(project, f, newRel + f.path.slice(oldRel.length));
      }
      for (const d of virtual) {
        this._virtual.remove(project.id, d);
        this._virtual.add(project.id, newRel + d.slice(oldRel.length));
      }
      model = this.folderModel(project.name, newRel, new Date().toISOString());
    }
    this._fileChanged.emit({
      type: 'rename',
      oldValue: { path: oldLocalPath },
      newValue: model
    });
    return model;
  }

  async save(
    localPath: string,
    options: Partial<Contents.IModel> & Contents.IContentProvisionOptions = {}
  ): Promise<Contents.IModel> {
    const [name, relPath] = splitPath(localPath);
    if (!relPath) {
      throw driveError(400, 'A project folder cannot be saved as a file', 'not_a_file');
    }
    const { project, file } = await this.locate(localPath);
    if (options.type === 'directory') {
      this._virtual.add(project.id, relPath);
      const model = this.folderModel(name, relPath, new Date().toISOString());
      this._fileChanged.emit({ type: 'new', oldValue: null, newValue: model });
      return model;
    }
    if (options.chunk !== undefined) {
      // JupyterLab uploads files over 1 MB in chunks; a project file is one piece.
      throw driveError(
        413,
        `"${PathExt.basename(relPath)}" is too large to upload into a MUSCode project (over 1 MB)`,
        'file_too_large'
      );
    }
    const { content, encoding } = encodeContent(options);
    if (!file) {
      const created = await this.client.createFile(project.id, {
        path: relPath,
        content,
        encoding
      });
      this._versions.set(created.id, created.version);
      const model = this.metaModel(project, created);
      this._fileChanged.emit({ type: 'new', oldValue: null, newValue: model });
      return model;
    }
    const saved = await this.putContent(localPath, project, file, content, encoding);
    const model = this.metaModel(project, saved);
    this._fileChanged.emit({ type: 'save', oldValue: null, newValue: model });
    return model;
  }

  async copy(localPath: string, toLocalDir: string): Promise<Contents.IModel> {
    const { project: from, file } = await this.locate(localPath);
    if (!file) {
      throw driveError(400, 'Only files can be copied', 'not_a_file');
    }
    const [toName, toDir] = splitPath(toLocalDir);
    if (!toName) {
      throw driveError(400, 'Copy files into a project folder', 'not_in_project');
    }
    const { project: to, files } = await this.locate(toLocalDir);
    const data = await this.client.getFile(from.id, file.id, 'base64');
    const prefix = toDir ? `${toDir}/` : '';
    const taken = new Set(
      files.filter(f => f.path.startsWith(prefix)).map(f => f.path.slice(prefix.length))
    );
    const ext = PathExt.extname(file.path);
    const stem = PathExt.basename(file.path, ext);
    const target = taken.has(PathExt.basename(file.path))
      ? uniqueName(`${stem}-Copy`, ext, taken, 1)
      : PathExt.basename(file.path);
    const created = await this.client.createFile(to.id, {
      path: prefix + target,
      content: data.content,
      encoding: 'base64'
    });
    const model = this.metaModel(to, created);
    this._fileChanged.emit({ type: 'new', oldValue: null, newValue: model });
    return model;
  }

  /**
   * The server keeps each file's latest saved version; that version is the one
   * checkpoint, and reverting to it reloads the file.
   */
  async createCheckpoint(localPath: string): Promise<Contents.ICheckpointModel> {
    return this.checkpointOf(localPath);
  }

  async listCheckpoints(localPath: string): Promise<Contents.ICheckpointModel[]> {
    try {
      return [await this.checkpointOf(localPath)];
    } catch (err) {
      if (err instanceof MuscodeAPIError && err.status === 404) {
        return [];
      }
      throw err;
    }
  }

  async restoreCheckpoint(localPath: string, checkpointID: string): Promise<void> {
    // The file on the server is the checkpoint: the document context reloads it.
    void localPath;
    void checkpointID;
  }

  async deleteCheckpoint(localPath: string, checkpointID: string): Promise<void> {
    void localPath;
    void checkpointID;
  }

  // -- internals ------------------------------------------------------------------------

  private async checkpointOf(localPath: string): Promise<Contents.ICheckpointModel> {
    const { file } = await this.locate(localPath);
    if (!file) {
      throw driveError(404, `No file "${localPath}"`, 'not_found');
    }
    return { id: `v${file.version}`, last_modified: file.updated_at };
  }

  private async moveFile(project: Project, file: FileMeta, newPath: string): Promise<FileMeta> {
    const moved = await this.client.updateFile(project.id, file.id, {
      path: newPath,
      version: file.version
    });
    // A rename is a new version too: an editor that held the latest one still does.
    if (this._versions.get(file.id) === file.version) {
      this._versions.set(file.id, moved.version);
    }
    return moved;
  }

  private async putContent(
    localPath: string,
    project: Project,
    file: FileMeta,
    content: string,
    encoding: Encoding
  ): Promise<FileMeta> {
    let base = this._versions.get(file.id) ?? null;
    let current = file;
    for (let attempt = 0; attempt < 3; attempt++) {
      if (base !== null) {
        try {
          const saved = await this.client.updateFile(project.id, file.id, {
            content,
            encoding,
            version: base
          });
          this._versions.set(file.id, saved.version);
          return saved;
        } catch (err) {
          if (!(err instanceof MuscodeAPIError && err.isStaleVersion)) {
            throw err;
          }
          const fresh = (await this.locate(localPath)).file;
          if (!fresh) {
            throw driveError(404, `"${localPath}" was deleted on the server`, 'file_not_found');
          }
          current = fresh;
        }
      }
      const choice = await this.askOnce(localPath, { path: localPath, baseVersion: base, current });
      if (choice === 'cancel') {
        throw cancelled('Save cancelled: the file changed on the server');
      }
      if (choice === 'reload') {
        this._versions.set(file.id, current.version);
        const reload = this._options.reload;
        if (reload) {
          // after the save has been turned down, so the editor is not mid-save
          setTimeout(() => void reload(localPath), 0);
        }
        throw cancelled('Save replaced by a reload of the server version');
      }
      // overwrite: base the change on the version the user has now seen
      base = current.version;
    }
    throw driveError(
      409,
      `"${localPath}" keeps changing on the server; try saving again`,
      'stale_version'
    );
  }

  /** One conflict question per path at a time (autosave must not stack dialogs). */
  private askOnce(path: string, conflict: IConflict): Promise<ConflictChoice> {
    if (this._asking.has(path)) {
      const error = new Error('A conflict dialog is already open for this file');
      error.name = 'ModalDuplicateError';
      return Promise.reject(error);
    }
    this._asking.add(path);
    return this._options.resolveConflict(conflict).finally(() => this._asking.delete(path));
  }

  private async fileModel(
    project: Project,
    file: FileMeta,
    options: Contents.IFetchOptions
  ): Promise<Contents.IModel> {
    const meta = this.metaModel(project, file);
    if (options.content === false) {
      return meta;
    }
    const data = await this.fetchFile(project.id, file.id, options);
    this._versions.set(data.id, data.version);
    const notebook = meta.type === 'notebook' && options.format !== 'base64';
    if (notebook) {
      const text = data.encoding === 'base64' ? base64ToText(data.content) : data.content;
      return {
        ...this.metaModel(project, data),
        format: 'json',
        content: text.trim() ? JSON.parse(text) : EMPTY_NOTEBOOK
      };
    }
    return withContent(this.metaModel(project, data), data, options.format === 'text');
  }

  private metaModel(project: Project, file: FileMeta): Contents.IModel {
    const type = isNotebookPath(file.path) ? 'notebook' : 'file';
    return fileMetaModel(`${project.name}/${file.path}`, file, type, true);
  }

  private folderModel(projectName: string, dir: string, modified: string | null): Contents.IModel {
    const path = [projectName, dir].filter(Boolean).join('/');
    return folderMetaModel(path, modified ?? new Date(0).toISOString(), projectName !== '');
  }

  private emitProjectChange(
    type: Contents.IChangedArgs['type'],
    oldName: string | null,
    newName: string | null
  ): void {
    this._fileChanged.emit({
      type,
      oldValue: oldName === null ? null : { path: oldName, type: 'directory' },
      newValue: newName === null ? null : { path: newName, type: 'directory' }
    });
    this._projectsChanged.emit();
  }

  private defaultLanguage(): string {
    return this._options.defaultLanguage?.() ?? 'python';
  }

  private _options: IDriveOptions;
  private _projectsChanged = new Signal<this, void>(this);
  private _projects = new Map<string, Project>();
  /** file id → the version the editor loaded or last saved */
  private _versions = new Map<string, number>();
  private _virtual = new VirtualFolders();
  private _asking = new Set<string>();
}
