/**
 * The one typed client of the MUSCode API (`API.md`), over JupyterLab's `ServerConnection`.
 *
 * Every HTTP call of the extension goes through `requestAPI()`; `MuscodeClient` names
 * each endpoint of the contract with its request and reply types.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import type {
  Assignment,
  AssignmentCreate,
  AssignmentUpdate,
  Class,
  ClassCreate,
  ClassGradebook,
  ClassUpdate,
  Encoding,
  ErrorBody,
  Execution,
  ExecutionBatch,
  ExecutionCreate,
  FieldError,
  FileCreate,
  FileMeta,
  FileUpdate,
  FileWithContent,
  GradeRow,
  GradescopeResults,
  GradingProgress,
  Health,
  Language,
  Me,
  Member,
  MembersAdd,
  Project,
  ProjectCreate,
  ProjectDetail,
  ProjectUpdate,
  ScoreOverride,
  Submission,
  SubmissionCreate,
  Token,
  TokenCreate,
  TokenCreated
} from './types';

/** Where the API lives below the server's base URL. */
export const API_PATH = 'api/muscode/v1';

/**
 * Every path template the client calls. `jlpm check:api` checks that each is in
 * `muscode_ext/openapi.yaml` or listed in `CONTRACT_ONLY_PATHS`.
 */
export const CLIENT_PATHS = [
  '/health',
  '/me',
  '/openapi.yaml',
  '/languages',
  '/projects',
  '/projects/{project_id}',
  '/projects/{project_id}/restore',
  '/projects/{project_id}/files',
  '/projects/{project_id}/files/{file_id}',
  '/executions',
  '/executions/{execution_id}',
  '/executions/{execution_id}/cancel',
  '/executions/{execution_id}/stream',
  '/executions/batch',
  '/events',
  '/collab/{file_id}',
  '/classes',
  '/classes/{class_id}',
  '/classes/{class_id}/members',
  '/classes/{class_id}/members.csv',
  '/classes/{class_id}/members/{name}',
  '/classes/{class_id}/assignments',
  '/classes/{class_id}/grades',
  '/classes/{class_id}/grades.csv',
  '/assignments/{assignment_id}',
  '/assignments/{assignment_id}/start',
  '/assignments/{assignment_id}/check',
  '/assignments/{assignment_id}/submissions',
  '/assignments/{assignment_id}/regrade',
  '/assignments/{assignment_id}/grades',
  '/assignments/{assignment_id}/grades.csv',
  '/submissions/{submission_id}',
  '/submissions/{submission_id}/results.json',
  '/tokens',
  '/tokens/{token_id}'
] as const;

export type ClientPath = (typeof CLIENT_PATHS)[number];

/**
 * Paths of API.md that the served OpenAPI document does not list yet (none now: keep
 * the list for the next addition to the contract).
 */
export const CONTRACT_ONLY_PATHS = [] as const satisfies readonly ClientPath[];

/** The names in `{...}` of a path template. */
type ParamNames<P extends string> = P extends `${string}{${infer N}}${infer Rest}`
  ? N | ParamNames<Rest>
  : never;

export type PathParams<P extends string> = [ParamNames<P>] extends [never]
  ? Record<string, never>
  : Record<ParamNames<P>, string>;

/** Fill a path template: `{name}` becomes the URL-encoded value. */
export function fillPath<P extends ClientPath>(template: P, params: PathParams<P>): string {
  const values = params as Record<string, string>;
  return template.replace(/\{([a-z_]+)\}/g, (_match, name: string) => {
    const value = values[name];
    if (value === undefined || value === '') {
      throw new Error(`missing path parameter ${name} for ${template}`);
    }
    return encodeURIComponent(value);
  });
}

export type QueryValue = string | number | boolean | null | undefined;

/** A query string (with `?`) of the defined values, or ''. */
export function queryString(query?: Record<string, QueryValue>): string {
  if (!query) {
    return '';
  }
  const parts = Object.entries(query)
    .filter((entry): entry is [string, string | number | boolean] => {
      return entry[1] !== undefined && entry[1] !== null;
    })
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`);
  return parts.length ? `?${parts.join('&')}` : '';
}

/**
 * An error reply of the MUSCode API (or no reply at all: `status` 0).
 *
 * `message` is the server's sentence, fit to show to a person.
 */
export class MuscodeAPIError extends Error {
  readonly status: number;
  readonly reason: string;
  readonly errors: FieldError[];
  readonly retryAfter: number | null;
  /**
   * The HTTP response (or one made up with the same status), so that JupyterLab's own
   * code, which looks at `error.response.status`, treats a 404 from a drive as one.
   */
  readonly response: Response | null;

  constructor(
    status: number,
    message: string,
    reason: string,
    errors: FieldError[] = [],
    retryAfter: number | null = null,
    response: Response | null = null
  ) {
    super(message);
    this.name = 'MuscodeAPIError';
    this.status = status;
    this.reason = reason;
    this.errors = errors;
    this.retryAfter = retryAfter;
    this.response =
      response ??
      (status >= 200 && status <= 599 && typeof Response !== 'undefined'
        ? new Response(null, { status })
        : null);
  }

  /** A save or rename based on a version that is no longer the file's. */
  get isStaleVersion(): boolean {
    return this.status === 409 && this.reason === 'stale_version';
  }

  /** The server does not have this endpoint (an older MUSCode) or the object is gone. */
  get isNotFound(): boolean {
    return this.status === 404;
  }

  /** A sentence with the field errors, if any, for a dialog or the output panel. */
  describe(): string {
    if (!this.errors.length) {
      return this.message;
    }
    const fields = this.errors.map(e => `${e.field}: ${e.message}`).join('; ');
    return this.message.includes(fields) ? this.message : `${this.message} (${fields})`;
  }
}

function isErrorBody(value: unknown): value is ErrorBody {
  if (typeof value !== 'object' || value === null) {
    return false;
  }
  const v = value as Record<string, unknown>;
  return typeof v.message === 'string' && typeof v.reason === 'string';
}

/** Turn a non-2xx response into a `MuscodeAPIError` with the server's own sentence. */
export async function errorFromResponse(
  response: Response,
  requestUrl = ''
): Promise<MuscodeAPIError> {
  const text = await response.text().catch(() => '');
  let body: unknown = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  const retry = response.headers.get('Retry-After');
  const retryAfter = retry !== null && /^\d+$/.test(retry.trim()) ? Number(retry) : null;
  if (isErrorBody(body)) {
    const errors = Array.isArray(body.errors) ? body.errors : [];
    return new MuscodeAPIError(
      response.status,
      body.message,
      body.reason,
      errors,
      retryAfter,
      response
    );
  }
  const what = response.statusText || 'error';
  const message =
    response.status === 404
      ? `The MUSCode server has no ${endpointOf(response.url || requestUrl)} endpoint (404)`
      : `The MUSCode server answered ${response.status} ${what}`;
  return new MuscodeAPIError(
    response.status,
    message,
    `http_${response.status}`,
    [],
    retryAfter,
    response
  );
}

/** The path of a URL below the API base, for messages: `/classes`. */
function endpointOf(url: string): string {
  let path = url;
  try {
    path = new URL(url).pathname;
  } catch {
    // already a path
  }
  const at = path.indexOf(API_PATH);
  return at >= 0 ? path.slice(at + API_PATH.length) || '/' : path;
}

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface IRequestOptions {
  method?: HttpMethod;
  /** A JSON body (objects are serialised), or a string sent as is with `contentType`. */
  body?: unknown;
  contentType?: string;
  query?: Record<string, QueryValue>;
  headers?: Record<string, string>;
}

/** A parsed reply: its status, its headers and its JSON (or text) body. */
export interface IReply<T> {
  status: number;
  headers: Headers;
  body: T;
}

/**
 * Call the MUSCode API at `endpoint` (relative to `{baseUrl}api/muscode/v1/`).
 *
 * Resolves with the reply for 2xx (204 gives `undefined` as body); rejects with a
 * `MuscodeAPIError` otherwise, or with status 0 when the server cannot be reached.
 */
export async function requestReply<T>(
  settings: ServerConnection.ISettings,
  endpoint: string,
  options: IRequestOptions = {}
): Promise<IReply<T>> {
  const url =
    URLExt.join(settings.baseUrl, API_PATH, endpoint.replace(/^\/+/, '')) +
    queryString(options.query);
  const headers = new Headers(options.headers ?? {});
  const init: RequestInit = { method: options.method ?? 'GET', headers };
  if (options.body !== undefined) {
    if (typeof options.body === 'string') {
      init.body = options.body;
      headers.set('Content-Type', options.contentType ?? 'text/plain; charset=utf-8');
    } else {
      init.body = JSON.stringify(options.body);
      headers.set('Content-Type', 'application/json');
    }
  }
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (err) {
    const detail = err instanceof Error ? err.message : String(err);
    throw new MuscodeAPIError(
      0,
      `Cannot reach the MUSCode server at ${settings.baseUrl}: ${detail}`,
      'network_error'
    );
  }
  if (!response.ok) {
    throw await errorFromResponse(response, url);
  }
  const type = response.headers.get('Content-Type') ?? '';
  const text = response.status === 204 ? '' : await response.text();
  let body: unknown = undefined;
  if (text) {
    if (type.includes('json')) {
      try {
        body = JSON.parse(text);
      } catch {
        throw new MuscodeAPIError(
          response.status,
          'The MUSCode server sent a reply that is not valid JSON',
          'malformed_reply'
        );
      }
    } else {
      body = text;
    }
  }
  return { status: response.status, headers: response.headers, body: body as T };
}

/** `requestReply` for callers that need only the body. */
export async function requestAPI<T>(
  settings: ServerConnection.ISettings,
  endpoint: string,
  options: IRequestOptions = {}
): Promise<T> {
  return (await requestReply<T>(settings, endpoint, options)).body;
}

/**
 * Connection settings for the MUSCode server at `serverUrl`.
 *
 * Empty: this Jupyter server (its base URL and token); under JupyterHub too, where a
 * student's server relays the API to the `muscode` service (relay mode). Otherwise an
 * absolute URL (or a path on this origin) of a separate MUSCode server, which
 * authenticates its users itself: this server's token is not sent there.
 */
export function makeSettings(
  serverUrl: string,
  base: ServerConnection.ISettings = ServerConnection.makeSettings()
): ServerConnection.ISettings {
  const trimmed = serverUrl.trim();
  if (!trimmed) {
    return base;
  }
  const origin = typeof window !== 'undefined' ? window.location.href : base.baseUrl;
  const resolved = new URL(trimmed, origin);
  if (resolved.protocol !== 'http:' && resolved.protocol !== 'https:') {
    throw new Error(`serverUrl must be an http(s) URL or a path, not ${serverUrl}`);
  }
  const baseUrl = resolved.href.endsWith('/') ? resolved.href : `${resolved.href}/`;
  const wsUrl = baseUrl.replace(/^http/, 'ws');
  const sameOrigin = typeof window !== 'undefined' && resolved.origin === window.location.origin;
  return ServerConnection.makeSettings({
    baseUrl,
    wsUrl,
    appUrl: base.appUrl,
    token: '',
    appendToken: false,
    init: { ...base.init, credentials: sameOrigin ? 'same-origin' : 'include' },
    fetch: base.fetch,
    Headers: base.Headers,
    Request: base.Request,
    WebSocket: base.WebSocket
  });
}

/** Top-level path templates of an OpenAPI document (YAML or JSON text). */
export function openapiPaths(document: string): Set<string> {
  const found = new Set<string>();
  const trimmed = document.trimStart();
  if (trimmed.startsWith('{')) {
    try {
      const parsed = JSON.parse(trimmed) as { paths?: Record<string, unknown> };
      for (const key of Object.keys(parsed.paths ?? {})) {
        found.add(key);
      }
    } catch {
      // not JSON after all: fall through to the YAML reading
    }
    if (found.size) {
      return found;
    }
  }
  // A YAML reading small enough for our own document: the keys one level below
  // a top-level `paths:` mapping.
  let inPaths = false;
  let indent: number | null = null;
  for (const line of document.split(/\r?\n/)) {
    if (!line.trim() || line.trimStart().startsWith('#')) {
      continue;
    }
    const lead = line.length - line.trimStart().length;
    if (lead === 0) {
      inPaths = /^paths\s*:\s*$/.test(line);
      indent = null;
      continue;
    }
    if (!inPaths) {
      continue;
    }
    if (indent === null) {
      indent = lead;
    }
    if (lead !== indent) {
      continue;
    }
    const m = /^\s*(['"]?)(\/[^'":]*)\1\s*:/.exec(line);
    if (m) {
      found.add(m[2]);
    }
  }
  return found;
}

/** What the connected server offers beyond the projects and executions core. */
export interface ICapabilities {
  /** `GET /executions/{id}/stream`: live output, stdin and cancel over a websocket. */
  stream: boolean;
  /** `POST /executions/{id}/cancel`. */
  cancel: boolean;
  /** `/classes` and `/classes/{id}/assignments`. */
  classes: boolean;
  /** `/assignments/{id}/start` and `/assignments/{id}/submissions`. */
  assignments: boolean;
  /** `POST /assignments/{id}/check`: run the visible tests without submitting. */
  check: boolean;
  /** Grades as JSON and CSV, per assignment and per class. */
  grades: boolean;
  /** `GET /events`: the caller's notices over a websocket. */
  events: boolean;
  /** The path templates the server's OpenAPI document lists. */
  paths: ReadonlySet<string>;
}

export function capabilitiesFrom(paths: ReadonlySet<string>): ICapabilities {
  return {
    stream: paths.has('/executions/{execution_id}/stream'),
    cancel: paths.has('/executions/{execution_id}/cancel'),
    classes: paths.has('/classes') && paths.has('/classes/{class_id}/assignments'),
    assignments:
      paths.has('/assignments/{assignment_id}/start') &&
      paths.has('/assignments/{assignment_id}/submissions'),
    check: paths.has('/assignments/{assignment_id}/check'),
    grades:
      paths.has('/assignments/{assignment_id}/grades.csv') &&
      paths.has('/classes/{class_id}/grades.csv'),
    events: paths.has('/events'),
    paths
  };
}

/** Options of `POST /executions`. */
export interface IRunOptions {
  /** Reply with the finished result (up to `timeout` seconds). */
  wait?: boolean;
  timeout?: number;
}

/**
 * The MUSCode API, one method per endpoint of `API.md`.
 */
export class MuscodeClient {
  constructor(readonly settings: ServerConnection.ISettings) {}

  /** `{baseUrl}api/muscode/v1`, for messages. */
  get apiUrl(): string {
    return URLExt.join(this.settings.baseUrl, API_PATH);
  }

  /** `requestAPI` with this client's settings; build `endpoint` with `fillPath`. */
  call<T>(
    method: HttpMethod,
    endpoint: string,
    options: Omit<IRequestOptions, 'method'> = {}
  ): Promise<T> {
    return requestAPI<T>(this.settings, endpoint, { ...options, method });
  }

  /** `requestReply` with this client's settings. */
  reply<T>(
    method: HttpMethod,
    endpoint: string,
    options: Omit<IRequestOptions, 'method'> = {}
  ): Promise<IReply<T>> {
    return requestReply<T>(this.settings, endpoint, { ...options, method });
  }

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
  importRoster(classId: string, csv: string): Promise<Member[]> {
    return this.call<Member[]>(
      'POST',
      fillPath('/classes/{class_id}/members.csv', { class_id: classId }),
      { body: csv, contentType: 'text/csv; charset=utf-8' }
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

  // -- assignments ------------------------------------------------------------------

  listAssignments(classId: string): Promise<Assignment[]> {
    return this.call<Assignment[]>(
      'GET',
      fillPath('/classes/{class_id}/assignments', {
        class_id: classId
      })
    );
  }

  createAssignment(classId: string, body: AssignmentCreate): Promise<Assignment> {
    return this.call<Assignment>(
      'POST',
      fillPath('/classes/{class_id}/assignments', { class_id: classId }),
      { body }
    );
  }

  getAssignment(assignmentId: string): Promise<Assignment> {
    return this.call<Assignment>(
      'GET',
      fillPath('/assignments/{assignment_id}', {
        assignment_id: assignmentId
      })
    );
  }

  updateAssignment(assignmentId: string, body: AssignmentUpdate): Promise<Assignment> {
    return this.call<Assignment>(
      'PATCH',
      fillPath('/assignments/{assignment_id}', { assignment_id: assignmentId }),
      { body }
    );
  }

  async deleteAssignment(assignmentId: string): Promise<void> {
    await this.call<undefined>(
      'DELETE',
      fillPath('/assignments/{assignment_id}', {
        assignment_id: assignmentId
      })
    );
  }

  /** The caller's project for the assignment, made from the starter files (idempotent). */
  startAssignment(assignmentId: string): Promise<ProjectDetail> {
    return this.call<ProjectDetail>(
      'POST',
      fillPath('/assignments/{assignment_id}/start', {
        assignment_id: assignmentId
      })
    );
  }

  /**
   * Run the visible tests on a project (not a submission): an ordinary run whose
   * `tests` hold the results. With `wait`, 200 finished or 201 still queued.
   */
  checkAssignment(
    assignmentId: string,
    projectId: string,
    options: { wait?: boolean } = {}
  ): Promise<IReply<Execution>> {
    const body: SubmissionCreate = { project_id: projectId };
    return this.reply<Execution>(
      'POST',
      fillPath('/assignments/{assignment_id}/check', { assignment_id: assignmentId }),
      { body, query: { wait: options.wait ? true : undefined } }
    );
  }

  /** Submit a project as it is saved now; with `wait`, the reply is graded. */
  submit(
    assignmentId: string,
    projectId: string,
    options: { wait?: boolean } = {}
  ): Promise<Submission> {
    const body: SubmissionCreate = { project_id: projectId };
    return this.call<Submission>(
      'POST',
      fillPath('/assignments/{assignment_id}/submissions', { assignment_id: assignmentId }),
      { body, query: { wait: options.wait ? true : undefined } }
    );
  }

  /** Newest first; staff see every student's (or one `student`'s), students their own. */
  listSubmissions(assignmentId: string, query: { student?: string } = {}): Promise<Submission[]> {
    return this.call<Submission[]>(
      'GET',
      fillPath('/assignments/{assignment_id}/submissions', {
        assignment_id: assignmentId
      }),
      { query }
    );
  }

  getSubmission(submissionId: string): Promise<Submission> {
    return this.call<Submission>(
      'GET',
      fillPath('/submissions/{submission_id}', { submission_id: submissionId })
    );
  }

  /** Set a score by hand with a comment; `score: null` clears the override. */
  overrideScore(submissionId: string, body: ScoreOverride): Promise<Submission> {
    return this.call<Submission>(
      'PATCH',
      fillPath('/submissions/{submission_id}', { submission_id: submissionId }),
      { body }
    );
  }

  /** The submission in Gradescope's `results.json` format. */
  submissionResults(submissionId: string): Promise<GradescopeResults> {
    return this.call<GradescopeResults>(
      'GET',
      fillPath('/submissions/{submission_id}/results.json', { submission_id: submissionId })
    );
  }

  /** Grade every submission again; progress comes as `regrade` notices and `grading`. */
  regrade(assignmentId: string): Promise<GradingProgress> {
    return this.call<GradingProgress>(
      'POST',
      fillPath('/assignments/{assignment_id}/regrade', {
        assignment_id: assignmentId
      })
    );
  }

  assignmentGrades(assignmentId: string): Promise<GradeRow[]> {
    return this.call<GradeRow[]>(
      'GET',
      fillPath('/assignments/{assignment_id}/grades', { assignment_id: assignmentId })
    );
  }

  assignmentGradesCsv(assignmentId: string): Promise<string> {
    return this.call<string>(
      'GET',
      fillPath('/assignments/{assignment_id}/grades.csv', {
        assignment_id: assignmentId
      })
    );
  }

  classGrades(classId: string): Promise<ClassGradebook> {
    return this.call<ClassGradebook>(
      'GET',
      fillPath('/classes/{class_id}/grades', { class_id: classId })
    );
  }

  classGradesCsv(classId: string): Promise<string> {
    return this.call<string>(
      'GET',
      fillPath('/classes/{class_id}/grades.csv', { class_id: classId })
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
