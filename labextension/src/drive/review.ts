/**
 * A read-only contents drive for staff: a student's project, by its id.
 *
 * Paths look like `MUSCodeReview:<project id>/<file path>`; files open in JupyterLab's
 * own editors (made read-only by the assignments plugin) and cannot be saved, renamed
 * or deleted. The server lets the TAs and instructors of the project's class read it.
 */
import { Contents } from '@jupyterlab/services';

import type { MuscodeClient } from '../client/client';
import { MuscodeAPIError } from '../request';
import type { FileMeta, ProjectDetail } from '../types';
import { ClientDrive, downloadUrl } from './base';
import { fileMetaModel, folderEntries, folderMetaModel, splitPath, withContent } from './models';

function readOnly(): MuscodeAPIError {
  return new MuscodeAPIError(
    403,
    "A student's project is read-only here: copy what you need into a project of your own",
    'read_only'
  );
}

/** Name of the read-only drive of students' projects: `MUSCodeReview:<project id>/file.py`. */
export const REVIEW_DRIVE_NAME = 'MUSCodeReview';

export class ReviewDrive extends ClientDrive implements Contents.IDrive {
  constructor(options: { client: MuscodeClient; name?: string }) {
    super(options.name ?? REVIEW_DRIVE_NAME, options.client);
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
    const children = folderEntries(
      inside,
      prefix,
      f => this.metaModel(project, f),
      (path, f) => this.dirModel(project.id, path, f.updated_at)
    );
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
    return downloadUrl(this.client, project.id, file.id);
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
    const data = await this.fetchFile(project.id, file.id, options);
    return withContent(meta, data, options.format !== 'base64');
  }

  private metaModel(project: ProjectDetail, file: FileMeta): Contents.IModel {
    return fileMetaModel(`${project.id}/${file.path}`, file, 'file', false);
  }

  private dirModel(projectId: string, dir: string, modified: string): Contents.IModel {
    return folderMetaModel([projectId, dir].filter(Boolean).join('/'), modified, false);
  }
}
