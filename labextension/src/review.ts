/**
 * A read-only contents drive for staff: a student's project, by its id.
 *
 * Paths look like `MUSCodeReview:<project id>/<file path>`; files open in JupyterLab's
 * own editors (made read-only by the plugin) and cannot be saved, renamed or deleted.
 * The server lets the TAs and instructors of the project's class read it.
 */
import { PathExt } from '@jupyterlab/coreutils';
import { Contents, ServerConnection } from '@jupyterlab/services';
import { ISignal, Signal } from '@lumino/signaling';

import { splitPath } from './drive';
import { MuscodeAPIError, MuscodeClient } from './request';
import type { FileMeta, ProjectDetail } from './types';

const TEXT_DECODER = typeof TextDecoder !== 'undefined' ? new TextDecoder() : null;

function readOnly(): MuscodeAPIError {
  return new MuscodeAPIError(
    403,
    "A student's project is read-only here: copy what you need into a project of your own",
    'read_only'
  );
}

export class ReviewDrive implements Contents.IDrive {
  constructor(options: { client: MuscodeClient; name?: string }) {
    this.client = options.client;
    this.name = options.name ?? 'MUSCodeReview';
  }

  readonly name: string;
  client: MuscodeClient;

  get serverSettings(): ServerConnection.ISettings {
    return this.client.settings;
  }

  get fileChanged(): ISignal<this, Contents.IChangedArgs> {
    return this._fileChanged;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  dispose(): void {
    if (!this._isDisposed) {
      this._isDisposed = true;
      Signal.clearData(this);
    }
  }

  /** The drive path of a file of a project: `MUSCodeReview:<id>/<path>`. */
  pathOf(projectId: string, filePath = ''): string {
    return `${this.name}:${[projectId, filePath].filter(Boolean).join('/')}`;
  }

  async get(localPath: string, options: Contents.IFetchOptions = {}): Promise<Contents.IModel> {
    const [projectId, relPath] = splitPath(localPath);
    const when = new Date(0).toISOString();
    if (!projectId) {
      return { ...this.dirModel('', '', when), content: [] };
    }
    const project = await this.client.getProject(projectId);
    const file = project.files.find(f => f.path === relPath);
    if (file && options.type !== 'directory') {
      return this.fileModel(project, file, options);
    }
    const prefix = relPath ? `${relPath}/` : '';
    const inside = project.files.filter(f => f.path.startsWith(prefix));
    if (relPath && !inside.length) {
      throw new MuscodeAPIError(404, `No file or folder "${relPath}" in this project`, 'not_found');
    }
    const children = new Map<string, Contents.IModel>();
    for (const f of inside) {
      const rest = f.path.slice(prefix.length);
      const slash = rest.indexOf('/');
      if (slash < 0) {
        children.set(rest, this.metaModel(project, f));
      } else if (!children.has(rest.slice(0, slash))) {
        children.set(
          rest.slice(0, slash),
          this.dirModel(project.id, prefix + rest.slice(0, slash), f.updated_at)
        );
      }
    }
    return {
      ...this.dirModel(project.id, relPath, project.updated_at),
      content: options.content === false ? null : Array.from(children.values())
    };
  }

  async getDownloadUrl(localPath: string): Promise<string> {
    const [projectId, relPath] = splitPath(localPath);
    const project = await this.client.getProject(projectId);
    const file = project.files.find(f => f.path === relPath);
    if (!file) {
      throw new MuscodeAPIError(400, 'Only files can be downloaded', 'not_a_file');
    }
    const data = await this.client.getFile(project.id, file.id, 'base64');
    const binary = atob(data.content);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) {
      bytes[i] = binary.charCodeAt(i);
    }
    return URL.createObjectURL(new Blob([bytes], { type: 'application/octet-stream' }));
  }

  async newUntitled(): Promise<Contents.IModel> {
    throw readOnly();
  }

  async delete(): Promise<void> {
    throw readOnly();
  }

  async rename(): Promise<Contents.IModel> {
    throw readOnly();
  }

  async save(): Promise<Contents.IModel> {
    throw readOnly();
  }

  async copy(): Promise<Contents.IModel> {
    throw readOnly();
  }

  async createCheckpoint(): Promise<Contents.ICheckpointModel> {
    throw readOnly();
  }

  async listCheckpoints(): Promise<Contents.ICheckpointModel[]> {
    return [];
  }

  async restoreCheckpoint(): Promise<void> {
    throw readOnly();
  }

  async deleteCheckpoint(): Promise<void> {
    throw readOnly();
  }

  private async fileModel(
    project: ProjectDetail,
    file: FileMeta,
    options: Contents.IFetchOptions
  ): Promise<Contents.IModel> {
    const meta = this.metaModel(project, file);
    if (options.content === false) {
      return meta;
    }
    const data = await this.client.getFile(
      project.id,
      file.id,
      options.format === 'base64' ? 'base64' : undefined
    );
    if (options.format !== 'base64' && data.encoding === 'base64') {
      const binary = atob(data.content);
      const bytes = Uint8Array.from(binary, c => c.charCodeAt(0));
      return {
        ...meta,
        format: 'text',
        content: TEXT_DECODER ? TEXT_DECODER.decode(bytes) : binary
      };
    }
    return {
      ...meta,
      format: data.encoding === 'base64' ? 'base64' : 'text',
      mimetype: data.encoding === 'base64' ? 'application/octet-stream' : 'text/plain',
      content: data.content
    };
  }

  private metaModel(project: ProjectDetail, file: FileMeta): Contents.IModel {
    return {
      name: PathExt.basename(file.path),
      path: `${project.id}/${file.path}`,
      type: 'file',
      writable: false,
      created: file.created_at,
      last_modified: file.updated_at,
      mimetype: 'text/plain',
      content: null,
      format: null,
      size: file.size
    };
  }

  private dirModel(projectId: string, dir: string, modified: string): Contents.IModel {
    const path = [projectId, dir].filter(Boolean).join('/');
    return {
      name: PathExt.basename(path),
      path,
      type: 'directory',
      writable: false,
      created: modified,
      last_modified: modified,
      mimetype: '',
      content: null,
      format: null
    };
  }

  private _fileChanged = new Signal<this, Contents.IChangedArgs>(this);
  private _isDisposed = false;
}
