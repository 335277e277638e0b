/**
 * The one typed client of the MUSCode API (`API.md`): one method per endpoint, with
 * its request and reply types, over `requestAPI()` and `ServerConnection`.
 */
import { URLExt } from '@jupyterlab/coreutils';

import { API_PATH, IReply, MuscodeAPIError, QueryValue } from '../request';

import type {
  Class,
  ClassCreate,
  ClassUpdate,
  Encoding,
  Execution,
  ExecutionBatch,
  ExecutionCreate,
  FileCreate,
  FileMeta,
  FileUpdate,
  FileWithContent,
  Health,
  Language,
  Me,
  Member,
  MembersAdd,
  MemberUpdate,
  RosterImport,
  Project,
  ProjectCreate,
  ProjectDetail,
  ProjectUpdate,
  Token,
  TokenCreate,
  TokenCreated
} from '../types';
import { AssignmentsClient } from './assignments';
import { capabilitiesFrom, ICapabilities, openapiPaths } from './capabilities';
import { fillPath } from './paths';
/** Options of `POST /executions`. */
export interface IRunOptions {
  /** Reply with the finished result (up to `timeout` seconds). */
  wait?: boolean;
  timeout?: number;
}

/**
 * The MUSCode API, one method per endpoint of `API.md` (those of assignments and
 * grading come from `AssignmentsClient`).
 */
export class MuscodeClient extends AssignmentsClient {
  // -- service ----------------------------------------------------------------------

  health(): Promise<Health> {
    return this.call<Health>('GET', fillPath('/health', {}));
  }

  me(): Promise<Me> {
    return this.call<Me>('GET', fillPath('/me', {}));
  }

  languages(): Promise<Language[]> {
    return this.call<Language[]>('GET', fillPath('/languages', {}));
  }

  openapi(): Promise<string> {
    return this.call<string>('GET', fillPath('/openapi.yaml', {}));
  }

  /** What the server offers, read from its own OpenAPI document. */
  async capabilities(): Promise<ICapabilities> {
    return capabilitiesFrom(openapiPaths(await this.openapi()));
  }

  // -- projects ---------------------------------------------------------------------

  listProjects(
    query: { class_id?: string; owner?: string; include_deleted?: boolean } = {}
  ): Promise<Project[]> {
    return this.call<Project[]>('GET', fillPath('/projects', {}), { query });
  }

  createProject(body: ProjectCreate): Promise<ProjectDetail> {
    return this.call<ProjectDetail>('POST', fillPath('/projects', {}), { body });
  }

  getProject(projectId: string, includeDeleted = false): Promise<ProjectDetail> {
    return this.call<ProjectDetail>(
      'GET',
      fillPath('/projects/{project_id}', { project_id: projectId }),
      { query: includeDeleted ? { include_deleted: true } : {} }
    );
  }

  updateProject(projectId: string, body: ProjectUpdate): Promise<ProjectDetail> {
    return this.call<ProjectDetail>(
      'PATCH',
      fillPath('/projects/{project_id}', { project_id: projectId }),
      {
        body
      }
    );
  }

  async deleteProject(projectId: string): Promise<void> {
    await this.call<undefined>(
      'DELETE',
      fillPath('/projects/{project_id}', { project_id: projectId })
    );
  }

  restoreProject(projectId: string): Promise<ProjectDetail> {
    return this.call<ProjectDetail>(
      'POST',
      fillPath('/projects/{project_id}/restore', {
        project_id: projectId
      })
    );
  }

  // -- files ------------------------------------------------------------------------

  listFiles(projectId: string): Promise<FileMeta[]> {
    return this.call<FileMeta[]>(
      'GET',
      fillPath('/projects/{project_id}/files', {
        project_id: projectId
      })
    );
  }

  createFile(projectId: string, body: FileCreate): Promise<FileMeta> {
    return this.call<FileMeta>(
      'POST',
      fillPath('/projects/{project_id}/files', { project_id: projectId }),
      {
        body
      }
    );
  }

  getFile(projectId: string, fileId: string, encoding?: Encoding): Promise<FileWithContent> {
    return this.call<FileWithContent>(
      'GET',
      fillPath('/projects/{project_id}/files/{file_id}', {
        project_id: projectId,
        file_id: fileId
      }),
      { query: { encoding } }
    );
  }

  /** Change content and/or path; 409 `stale_version` when `body.version` is old. */
  updateFile(projectId: string, fileId: string, body: FileUpdate): Promise<FileMeta> {
    return this.call<FileMeta>(
      'PUT',
      fillPath('/projects/{project_id}/files/{file_id}', {
        project_id: projectId,
        file_id: fileId
      }),
      { body }
    );
  }

  async deleteFile(projectId: string, fileId: string): Promise<void> {
    await this.call<undefined>(
      'DELETE',
      fillPath('/projects/{project_id}/files/{file_id}', {
        project_id: projectId,
        file_id: fileId
      })
    );
  }

  // -- executions -------------------------------------------------------------------

  /** Start a run: 201 queued, or with `wait` 200 finished / 202 still going. */
  createExecution(body: ExecutionCreate, options: IRunOptions = {}): Promise<IReply<Execution>> {
    const query: Record<string, QueryValue> = {};
    if (options.wait) {
      query.wait = true;
      query.timeout = options.timeout;
    }
    return this.reply<Execution>('POST', fillPath('/executions', {}), { body, query });
  }

  getExecution(executionId: string): Promise<Execution> {
    return this.call<Execution>(
      'GET',
      fillPath('/executions/{execution_id}', {
        execution_id: executionId
      })
    );
  }

  listExecutions(
    query: {
      ids?: string[];
      project_id?: string;
      status?: string;
      limit?: number;
      before?: string;
    } = {}
  ): Promise<Execution[]> {
    const { ids, ...rest } = query;
    return this.call<Execution[]>('GET', fillPath('/executions', {}), {
      query: { ...rest, ids: ids?.join(',') }
    });
  }

  cancelExecution(executionId: string): Promise<Execution> {
    return this.call<Execution>(
      'POST',
      fillPath('/executions/{execution_id}/cancel', {
        execution_id: executionId
      })
    );
  }

  createBatch(submissions: ExecutionCreate[]): Promise<ExecutionBatch> {
    return this.call<ExecutionBatch>('POST', fillPath('/executions/batch', {}), {
      body: { submissions }
    });
  }

  /** The websocket URL of a run's live channel (with this server's token, if any). */
  streamUrl(executionId: string): string {
    return this.wsUrl(fillPath('/executions/{execution_id}/stream', { execution_id: executionId }));
  }

  /** The websocket URL of the caller's event feed. */
  eventsUrl(): string {
    return this.wsUrl(fillPath('/events', {}));
  }

  /**
   * A file's live editing room, as y-websocket wants it: the server URL, the room
   * name (appended with a `/`) and the query (this server's token, if any).
   */
  collabRoom(fileId: string): { serverUrl: string; room: string; params: Record<string, string> } {
    const url = URLExt.join(
      this.settings.wsUrl,
      API_PATH,
      fillPath('/collab/{file_id}', { file_id: fileId }).replace(/^\/+/, '')
    );
    const cut = url.lastIndexOf('/');
    const { token, appendToken } = this.settings;
    return {
      serverUrl: url.slice(0, cut),
      room: url.slice(cut + 1),
      params: token && appendToken !== false ? { token } : {}
    };
  }

  /**
   * The status of a plain GET of a file's room: 404 (may not edit), 422 (not text),
   * 401/403, or 400 when the caller may join (the server wants a websocket upgrade).
   * 0 when the server cannot be reached.
   */
  async collabAccess(fileId: string): Promise<number> {
    try {
      const reply = await this.reply<unknown>(
        'GET',
        fillPath('/collab/{file_id}', { file_id: fileId })
      );
      return reply.status;
    } catch (err) {
      return err instanceof MuscodeAPIError ? err.status : 0;
    }
  }

  /** Open a websocket with the connection's own WebSocket class. */
  openSocket(url: string): WebSocket {
    return new this.settings.WebSocket(url);
  }

  private wsUrl(endpoint: string): string {
    const url = URLExt.join(this.settings.wsUrl, API_PATH, endpoint.replace(/^\/+/, ''));
    const { token, appendToken } = this.settings;
    return token && appendToken !== false ? `${url}?token=${encodeURIComponent(token)}` : url;
  }

  // -- classes ----------------------------------------------------------------------

  listClasses(): Promise<Class[]> {
    return this.call<Class[]>('GET', fillPath('/classes', {}));
  }

  createClass(body: ClassCreate): Promise<Class> {
    return this.call<Class>('POST', fillPath('/classes', {}), { body });
  }

  getClass(classId: string): Promise<Class> {
    return this.call<Class>('GET', fillPath('/classes/{class_id}', { class_id: classId }));
  }

  updateClass(classId: string, body: ClassUpdate): Promise<Class> {
    return this.call<Class>('PATCH', fillPath('/classes/{class_id}', { class_id: classId }), {
      body
    });
  }

  async deleteClass(classId: string): Promise<void> {
    await this.call<undefined>('DELETE', fillPath('/classes/{class_id}', { class_id: classId }));
  }

  listMembers(classId: string): Promise<Member[]> {
    return this.call<Member[]>(
      'GET',
      fillPath('/classes/{class_id}/members', { class_id: classId })
    );
  }

  addMembers(classId: string, body: MembersAdd): Promise<Member[]> {
    return this.call<Member[]>(
      'POST',
      fillPath('/classes/{class_id}/members', { class_id: classId }),
      {
        body
      }
    );
  }

  /** Import a roster CSV (`name,role` rows). */
  importRoster(classId: string, csv: string): Promise<RosterImport> {
    return this.call<RosterImport>(
      'POST',
      fillPath('/classes/{class_id}/members.csv', { class_id: classId }),
      { body: csv, contentType: 'text/csv; charset=utf-8' }
    );
  }

  /** Change one member's role in place. */
  updateMember(classId: string, name: string, body: MemberUpdate): Promise<Member> {
    return this.call<Member>(
      'PATCH',
      fillPath('/classes/{class_id}/members/{name}', { class_id: classId, name }),
      { body }
    );
  }

  async removeMember(classId: string, name: string): Promise<void> {
    await this.call<undefined>(
      'DELETE',
      fillPath('/classes/{class_id}/members/{name}', {
        class_id: classId,
        name
      })
    );
  }

  // -- tokens -----------------------------------------------------------------------

  /** A new bearer token; the reply is the only one that shows the JWT. */
  createToken(body: TokenCreate): Promise<TokenCreated> {
    return this.call<TokenCreated>('POST', fillPath('/tokens', {}), { body });
  }

  listTokens(): Promise<Token[]> {
    return this.call<Token[]>('GET', fillPath('/tokens', {}));
  }

  async deleteToken(tokenId: string): Promise<void> {
    await this.call<undefined>('DELETE', fillPath('/tokens/{token_id}', { token_id: tokenId }));
  }
}
