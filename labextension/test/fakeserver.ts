/**
 * A small in-memory MUSCode API behind a `fetch`, for the client and drive tests:
 * projects and files with versions (409 `stale_version`), languages, executions.
 */
import { ServerConnection } from '@jupyterlab/services';

import type { Assignment, Execution, FileMeta, Project, Submission } from '../src/types';

export interface IRecorded {
  method: string;
  url: string;
  body: unknown;
  headers: Headers;
}

interface IFile extends FileMeta {
  content: string;
}

const now = () => new Date().toISOString();

/** An assignment as the server sends it to a student who has not started it. */
export function makeAssignment(overrides: Partial<Assignment> = {}): Assignment {
  return {
    id: 'a1',
    class_id: 'c1',
    title: 'Echo',
    description: 'Print the line you read.',
    language: 'python',
    starter_files: [{ path: 'main.py', content: '' }],
    tests: [
      { name: 'hello', stdin: 'hello\n', expected_output: 'hello\n', points: 1, hidden: false },
      { name: 'secret', points: 2, hidden: true }
    ],
    due_at: null,
    late_policy: { mode: 'accept' },
    max_attempts: null,
    limits: null,
    published: true,
    max_score: 3,
    created_at: '2026-01-01T00:00:00Z',
    updated_at: '2026-01-01T00:00:00Z',
    role: 'student',
    my: {
      project_id: null,
      attempts: 0,
      latest_score: null,
      best_score: null,
      submitted_at: null,
      due_at: null,
      extended: false
    },
    ...overrides
  };
}

/** A graded submission: the visible test passed, the hidden one failed. */
export function makeSubmission(overrides: Partial<Submission> = {}): Submission {
  return {
    id: 's1',
    assignment_id: 'a1',
    student: 'ada',
    project_id: 'p1',
    attempt: 1,
    submitted_at: '2026-01-02T10:00:00Z',
    late: false,
    days_late: 0,
    status: 'graded',
    verdict: 'wrong_answer',
    compile_output: null,
    raw_score: 1,
    score: 1,
    max_score: 3,
    override: null,
    tests: [
      {
        name: 'hello',
        hidden: false,
        points: 1,
        points_awarded: 1,
        passed: true,
        verdict: 'accepted',
        stdout: 'hello\n'
      },
      {
        name: 'secret',
        hidden: true,
        points: 2,
        points_awarded: 0,
        passed: false,
        verdict: 'wrong_answer',
        stdin: 'xyz\n',
        expected_output: 'xyz\n',
        stdout: 'nope\n'
      }
    ],
    graded_at: '2026-01-02T10:00:01Z',
    ...overrides
  };
}

/** What a custom route answers: a status and a JSON body, or text with its type. */
export interface IFakeReply {
  status: number;
  body?: unknown;
  text?: string;
  contentType?: string;
}

export type Handler = (
  match: RegExpExecArray,
  query: URLSearchParams,
  body: unknown
) => IFakeReply | Promise<IFakeReply>;

export class FakeServer {
  requests: IRecorded[] = [];
  projects: Project[] = [];
  files: IFile[] = [];
  /** Replies to POST /executions, in order (else an accepted run). */
  runReplies: Array<{ status: number; body: Execution }> = [];
  /** Replies to GET /executions/{id}, in order. */
  pollReplies: Execution[] = [];
  private next = 1;
  private handlers: Array<{ method: string; path: RegExp; handle: Handler }> = [];

  /**
   * Answer `method` on paths matching `path` (tried before the built-in routes); the
   * handler gets the regex match, the query and the JSON (or text) body.
   */
  on(method: string, path: RegExp, handle: Handler): this {
    this.handlers.push({ method, path, handle });
    return this;
  }

  settings(extra: Partial<ServerConnection.ISettings> = {}): ServerConnection.ISettings {
    return ServerConnection.makeSettings({
      baseUrl: 'http://lab.test/base/',
      wsUrl: 'ws://lab.test/base/',
      token: 'secret-token',
      fetch: (input: RequestInfo | URL, init?: RequestInit) => this.fetch(input, init),
      ...extra
    });
  }

  addProject(name: string, language = 'python', files: Record<string, string> = {}): Project {
    const p: Project = {
      id: `p${this.next++}`,
      name,
      description: '',
      language,
      owner: 'student',
      class_id: null,
      created_at: now(),
      updated_at: now(),
      deleted_at: null
    };
    this.projects.push(p);
    for (const [path, content] of Object.entries(files)) {
      this.addFile(p.id, path, content);
    }
    return p;
  }

  addFile(projectId: string, path: string, content: string): IFile {
    const f: IFile = {
      id: `f${this.next++}`,
      project_id: projectId,
      path,
      size: content.length,
      sha256: 'x',
      version: 1,
      created_at: now(),
      updated_at: now(),
      content
    };
    this.files.push(f);
    return f;
  }

  /** Someone else saves the file: its version goes up. */
  changeElsewhere(fileId: string, content: string): void {
    const f = this.files.find(x => x.id === fileId)!;
    f.content = content;
    f.version += 1;
  }

  execution(overrides: Partial<Execution> = {}): Execution {
    return {
      id: 'e1',
      status: 'done',
      verdict: 'accepted',
      exit_code: 0,
      signal: null,
      stdout: '',
      stderr: '',
      compile_output: null,
      truncated: { stdout: false, stderr: false },
      time_ms: 12,
      wall_time_ms: 30,
      memory_kb: 9000,
      language: 'python',
      limits: {},
      created_at: now(),
      started_at: now(),
      finished_at: now(),
      message: null,
      ...overrides
    };
  }

  async fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
    const request = input instanceof Request ? input : new Request(String(input), init);
    const text = request.method === 'GET' ? '' : await request.text();
    const isJson = (request.headers.get('Content-Type') ?? '').includes('json');
    const body: unknown = text ? (isJson ? JSON.parse(text) : text) : undefined;
    this.requests.push({
      method: request.method,
      url: request.url,
      body,
      headers: request.headers
    });
    const url = new URL(request.url);
    const path = url.pathname.replace(/^\/base\/api\/muscode\/v1/, '');
    for (const h of this.handlers) {
      const m = h.method === request.method ? h.path.exec(path) : null;
      if (m) {
        const reply = await h.handle(m, url.searchParams, body);
        if (reply.text !== undefined) {
          return new Response(reply.text, {
            status: reply.status,
            headers: { 'Content-Type': reply.contentType ?? 'text/plain' }
          });
        }
        return this.json(reply.status, reply.body ?? null);
      }
    }
    return this.route(request.method, path, url.searchParams, body as Record<string, unknown>);
  }

  private json(status: number, body: unknown): Response {
    return new Response(status === 204 ? null : JSON.stringify(body), {
      status,
      headers: { 'Content-Type': 'application/json' }
    });
  }

  private error(status: number, message: string, reason: string): Response {
    return this.json(status, { message, reason });
  }

  private meta(f: IFile): FileMeta {
    const { content: _content, ...meta } = f;
    void _content;
    return meta;
  }

  private route(
    method: string,
    path: string,
    query: URLSearchParams,
    body: Record<string, unknown>
  ): Response {
    let m: RegExpExecArray | null;
    if (method === 'GET' && path === '/projects') {
      const all = query.get('include_deleted') === 'true';
      return this.json(
        200,
        this.projects.filter(p => all || p.deleted_at === null)
      );
    }
    if (method === 'POST' && path === '/projects') {
      if (this.projects.some(p => p.name === body.name && p.deleted_at === null)) {
        return this.error(409, `you already have a project named '${body.name}'`, 'project_exists');
      }
      const p = this.addProject(String(body.name), String(body.language));
      return this.json(201, { ...p, files: [] });
    }
    if ((m = /^\/projects\/([^/]+)$/.exec(path))) {
      const p = this.projects.find(x => x.id === m![1]);
      if (!p) {
        return this.error(404, 'project not found', 'project_not_found');
      }
      if (method === 'PATCH') {
        Object.assign(p, body);
      }
      if (method === 'DELETE') {
        p.deleted_at = now();
        return this.json(204, null);
      }
      return this.json(200, {
        ...p,
        files: this.files.filter(f => f.project_id === p.id).map(f => this.meta(f))
      });
    }
    if ((m = /^\/projects\/([^/]+)\/restore$/.exec(path))) {
      const p = this.projects.find(x => x.id === m![1])!;
      p.deleted_at = null;
      return this.json(200, { ...p, files: [] });
    }
    if ((m = /^\/projects\/([^/]+)\/files$/.exec(path))) {
      const pid = m[1];
      if (method === 'POST') {
        if (this.files.some(f => f.project_id === pid && f.path === body.path)) {
          return this.error(409, 'a file already exists there', 'path_exists');
        }
        const content =
          body.encoding === 'base64'
            ? Buffer.from(String(body.content), 'base64').toString('utf-8')
            : String(body.content);
        return this.json(201, this.meta(this.addFile(pid, String(body.path), content)));
      }
      return this.json(
        200,
        this.files.filter(f => f.project_id === pid).map(f => this.meta(f))
      );
    }
    if ((m = /^\/projects\/([^/]+)\/files\/([^/]+)$/.exec(path))) {
      const f = this.files.find(x => x.id === m![2]);
      if (!f) {
        return this.error(404, 'file not found', 'file_not_found');
      }
      if (method === 'GET') {
        if (query.get('encoding') === 'base64') {
          return this.json(200, {
            ...this.meta(f),
            content: Buffer.from(f.content).toString('base64'),
            encoding: 'base64'
          });
        }
        return this.json(200, { ...f, encoding: 'utf-8' });
      }
      if (method === 'PUT') {
        if (body.version !== f.version) {
          return this.error(409, `changed since version ${body.version}`, 'stale_version');
        }
        if (typeof body.content === 'string') {
          f.content = body.content;
        }
        if (typeof body.path === 'string') {
          f.path = body.path;
        }
        f.version += 1;
        f.updated_at = now();
        return this.json(200, this.meta(f));
      }
      if (method === 'DELETE') {
        this.files = this.files.filter(x => x !== f);
        return this.json(204, null);
      }
    }
    if (method === 'POST' && path === '/executions') {
      const reply = this.runReplies.shift() ?? { status: 200, body: this.execution() };
      return this.json(reply.status, reply.body);
    }
    if ((m = /^\/executions\/([^/]+)$/.exec(path)) && method === 'GET') {
      return this.json(200, this.pollReplies.shift() ?? this.execution({ id: m[1] }));
    }
    if ((m = /^\/executions\/([^/]+)\/cancel$/.exec(path))) {
      return this.json(200, this.execution({ id: m[1], verdict: 'cancelled', exit_code: null }));
    }
    if (path === '/languages') {
      return this.json(200, [
        {
          id: 'python',
          name: 'Python',
          version: '3.11',
          extensions: ['.py'],
          compiled: false,
          available: true
        },
        {
          id: 'php',
          name: 'PHP',
          version: null,
          extensions: ['.php'],
          compiled: false,
          available: false
        }
      ]);
    }
    return new Response('<html>404: Not Found</html>', {
      status: 404,
      statusText: 'Not Found',
      headers: { 'Content-Type': 'text/html' }
    });
  }
}
