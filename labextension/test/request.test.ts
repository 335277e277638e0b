import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { capabilitiesFrom, openapiPaths } from '../src/client/capabilities';
import { MuscodeClient } from '../src/client/client';
import { CLIENT_PATHS, fillPath } from '../src/client/paths';
import { makeSettings, MuscodeAPIError, queryString, requestAPI } from '../src/request';
import { FakeServer, makeAssignment, makeSubmission } from './fakeserver';

const SPEC = readFileSync(join(__dirname, '..', '..', 'muscode_ext', 'openapi.yaml'), 'utf-8');

describe('paths and queries', () => {
  it('fills templates with encoded values', () => {
    expect(
      fillPath('/projects/{project_id}/files/{file_id}', { project_id: 'a b', file_id: 'c/d' })
    ).toBe('/projects/a%20b/files/c%2Fd');
    expect(fillPath('/classes/{class_id}/members/{name}', { class_id: '1', name: 'ada' })).toBe(
      '/classes/1/members/ada'
    );
  });

  it('refuses a missing parameter', () => {
    expect(() => fillPath('/projects/{project_id}', { project_id: '' })).toThrow(/project_id/);
  });

  it('builds query strings from the defined values only', () => {
    expect(queryString({ a: 1, b: undefined, c: null, d: true, e: 'x y' })).toBe(
      '?a=1&d=true&e=x%20y'
    );
    expect(queryString({})).toBe('');
    expect(queryString()).toBe('');
  });
});

describe('requestAPI', () => {
  it('sends JSON with the token and parses the reply', async () => {
    const server = new FakeServer();
    server.addProject('hello');
    const client = new MuscodeClient(server.settings());
    const created = await client.createProject({ name: 'second', language: 'python' });
    expect(created.name).toBe('second');
    const sent = server.requests[0];
    expect(sent.method).toBe('POST');
    const url = new URL(sent.url);
    expect(url.origin + url.pathname).toBe('http://lab.test/base/api/muscode/v1/projects');
    expect(sent.body).toEqual({ name: 'second', language: 'python' });
    expect(sent.headers.get('Content-Type')).toBe('application/json');
    expect(sent.headers.get('Authorization')).toBe('token secret-token');
    const names = (await client.listProjects()).map(p => p.name);
    expect(names).toEqual(['hello', 'second']);
  });

  it('gives undefined for 204', async () => {
    const server = new FakeServer();
    const p = server.addProject('gone');
    const client = new MuscodeClient(server.settings());
    await expect(client.deleteProject(p.id)).resolves.toBeUndefined();
    expect(server.projects[0].deleted_at).not.toBeNull();
  });

  it('turns an error reply into a MuscodeAPIError with the server sentence', async () => {
    const server = new FakeServer();
    const p = server.addProject('hello', 'python', { 'main.py': 'print(1)' });
    const client = new MuscodeClient(server.settings());
    const f = server.files[0];
    server.changeElsewhere(f.id, 'print(2)');
    const err = await client
      .updateFile(p.id, f.id, { content: 'print(3)', version: 1 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MuscodeAPIError);
    const e = err as MuscodeAPIError;
    expect(e.status).toBe(409);
    expect(e.reason).toBe('stale_version');
    expect(e.isStaleVersion).toBe(true);
    expect(e.message).toBe('changed since version 1');
    expect(e.response?.status).toBe(409);
  });

  it('keeps field errors and names them in describe()', async () => {
    const settings = new FakeServer().settings({
      fetch: async () =>
        new Response(
          JSON.stringify({
            message: 'invalid request',
            reason: 'invalid',
            errors: [{ field: 'limits.memory_mb', message: 'at most 1024' }]
          }),
          { status: 422, headers: { 'Content-Type': 'application/json', 'Retry-After': '3' } }
        )
    });
    const err = (await requestAPI(settings, 'executions', { method: 'POST', body: {} }).catch(
      (e: unknown) => e
    )) as MuscodeAPIError;
    expect(err.errors).toEqual([{ field: 'limits.memory_mb', message: 'at most 1024' }]);
    expect(err.describe()).toBe('invalid request (limits.memory_mb: at most 1024)');
    expect(err.retryAfter).toBe(3);
  });

  it('explains a missing endpoint (a 404 page that is not JSON)', async () => {
    const client = new MuscodeClient(new FakeServer().settings());
    const err = (await client.listClasses().catch((e: unknown) => e)) as MuscodeAPIError;
    expect(err.status).toBe(404);
    expect(err.isNotFound).toBe(true);
    expect(err.reason).toBe('http_404');
    expect(err.message).toBe('The MUSCode server has no /classes endpoint (404)');
  });

  it('reports an unreachable server with status 0', async () => {
    const settings = new FakeServer().settings({
      fetch: async () => {
        throw new TypeError('Failed to fetch');
      }
    });
    const err = (await requestAPI(settings, 'me').catch((e: unknown) => e)) as MuscodeAPIError;
    expect(err.status).toBe(0);
    expect(err.reason).toBe('network_error');
    expect(err.message).toContain('http://lab.test/base/');
    expect(err.message).toContain('Failed to fetch');
  });

  it('rejects a 2xx reply that is not valid JSON', async () => {
    const settings = new FakeServer().settings({
      fetch: async () =>
        new Response('{oops', { status: 200, headers: { 'Content-Type': 'application/json' } })
    });
    await expect(requestAPI(settings, 'me')).rejects.toMatchObject({ reason: 'malformed_reply' });
  });

  it('returns text bodies as strings (openapi.yaml, grades.csv)', async () => {
    const settings = new FakeServer().settings({
      fetch: async () =>
        new Response('openapi: 3.1.0\n', {
          status: 200,
          headers: { 'Content-Type': 'application/yaml' }
        })
    });
    expect(await new MuscodeClient(settings).openapi()).toBe('openapi: 3.1.0\n');
  });

  it('sends POST /executions with wait and timeout, and reads the status', async () => {
    const server = new FakeServer();
    server.runReplies.push({ status: 202, body: server.execution({ status: 'running' }) });
    const client = new MuscodeClient(server.settings());
    const reply = await client.createExecution(
      { language: 'python', source: 'print(1)', stdin: 'x' },
      { wait: true, timeout: 30 }
    );
    expect(reply.status).toBe(202);
    expect(reply.body.status).toBe('running');
    const url = new URL(server.requests[0].url);
    expect(url.searchParams.get('wait')).toBe('true');
    expect(url.searchParams.get('timeout')).toBe('30');
  });
});

describe('websocket URLs and server URL settings', () => {
  it('puts the token on the stream URL of this server', () => {
    const client = new MuscodeClient(new FakeServer().settings());
    expect(client.streamUrl('run 1')).toBe(
      'ws://lab.test/base/api/muscode/v1/executions/run%201/stream?token=secret-token'
    );
    expect(client.eventsUrl()).toBe('ws://lab.test/base/api/muscode/v1/events?token=secret-token');
  });

  it('uses this server when serverUrl is empty', () => {
    const base = new FakeServer().settings();
    expect(makeSettings('', base)).toBe(base);
    expect(makeSettings('   ', base)).toBe(base);
  });

  it('points at another server without sending this server token', () => {
    const base = new FakeServer().settings();
    const hub = makeSettings('https://hub.example.org/services/muscode', base);
    expect(hub.baseUrl).toBe('https://hub.example.org/services/muscode/');
    expect(hub.wsUrl).toBe('wss://hub.example.org/services/muscode/');
    expect(hub.token).toBe('');
    const client = new MuscodeClient(hub);
    expect(client.apiUrl).toBe('https://hub.example.org/services/muscode/api/muscode/v1');
    expect(client.streamUrl('e1')).toBe(
      'wss://hub.example.org/services/muscode/api/muscode/v1/executions/e1/stream'
    );
  });

  it('resolves a path against this server origin', () => {
    const base = new FakeServer().settings();
    expect(makeSettings('/services/muscode/', base).baseUrl).toBe(
      'http://lab.test/services/muscode/'
    );
  });

  it('refuses a URL that is not http(s)', () => {
    expect(() => makeSettings('ftp://x/', new FakeServer().settings())).toThrow(/http/);
  });
});

describe('capabilities from the served OpenAPI document', () => {
  it('reads the top-level paths of muscode_ext/openapi.yaml', () => {
    const paths = openapiPaths(SPEC);
    for (const p of ['/health', '/projects', '/projects/{project_id}/files/{file_id}']) {
      expect(paths.has(p)).toBe(true);
    }
    // nothing from below the paths (parameters, responses, schemas)
    for (const p of paths) {
      expect(p.startsWith('/')).toBe(true);
    }
    const listed = SPEC.split('\n').filter(l => /^ {2}\/\S*:\s*$/.test(l)).length;
    expect(paths.size).toBe(listed);
  });

  it('reads JSON documents and quoted keys too', () => {
    expect([...openapiPaths('{"paths": {"/a": {}, "/b/{id}": {}}}')]).toEqual(['/a', '/b/{id}']);
    const yaml =
      'openapi: 3.1.0\npaths:\n  "/x":\n    get: {}\n  \'/y\':\n    get: {}\ncomponents:\n  schemas: {}\n';
    expect([...openapiPaths(yaml)]).toEqual(['/x', '/y']);
  });

  it('derives what the UI may offer', () => {
    const none = capabilitiesFrom(new Set(['/projects']));
    expect(none).toMatchObject({
      stream: false,
      cancel: false,
      classes: false,
      assignments: false
    });
    const all = capabilitiesFrom(new Set(CLIENT_PATHS));
    expect(all).toMatchObject({
      stream: true,
      cancel: true,
      classes: true,
      assignments: true,
      check: true,
      grades: true,
      events: true
    });
  });

  it('finds every path the client calls in the document', () => {
    const paths = openapiPaths(SPEC);
    expect(CLIENT_PATHS.filter(p => !paths.has(p))).toEqual([]);
    expect(capabilitiesFrom(paths)).toMatchObject({ assignments: true, check: true, grades: true });
  });
});

describe('assignments and grading', () => {
  function setup() {
    const server = new FakeServer();
    return { server, client: new MuscodeClient(server.settings()) };
  }
  const sent = (server: FakeServer, i = -1) => {
    const r = server.requests.at(i)!;
    const url = new URL(r.url);
    return {
      method: r.method,
      path: url.pathname.replace('/base/api/muscode/v1', ''),
      query: Object.fromEntries(url.searchParams),
      body: r.body,
      type: r.headers.get('Content-Type')
    };
  };

  it('lists, creates, changes and deletes assignments', async () => {
    const { server, client } = setup();
    const a = makeAssignment();
    server
      .on('GET', /^\/classes\/c%201\/assignments$/, () => ({ status: 200, body: [a] }))
      .on('POST', /^\/classes\/c1\/assignments$/, (_m, _q, body) => ({
        status: 201,
        body: { ...a, ...(body as object) }
      }))
      .on('PATCH', /^\/assignments\/a1$/, (_m, _q, body) => ({
        status: 200,
        body: { ...a, ...(body as object) }
      }))
      .on('DELETE', /^\/assignments\/a1$/, () => ({ status: 204 }));
    expect(await client.listAssignments('c 1')).toEqual([a]);
    const created = await client.createAssignment('c1', {
      title: 'New',
      language: 'c',
      late_policy: { mode: 'penalty', penalty_per_day: 10 },
      max_attempts: 2
    });
    expect(created.title).toBe('New');
    expect(sent(server)).toMatchObject({
      method: 'POST',
      path: '/classes/c1/assignments',
      body: { title: 'New', language: 'c', max_attempts: 2 }
    });
    const changed = await client.updateAssignment('a1', { published: false });
    expect(changed.published).toBe(false);
    expect(sent(server)).toMatchObject({ method: 'PATCH', body: { published: false } });
    await expect(client.deleteAssignment('a1')).resolves.toBeUndefined();
  });

  it('starts, checks and submits with the project id', async () => {
    const { server, client } = setup();
    const project = { ...server.addProject('Echo'), files: [] };
    server
      .on('POST', /^\/assignments\/a1\/start$/, () => ({ status: 201, body: project }))
      .on('POST', /^\/assignments\/a1\/check$/, () => ({
        status: 200,
        body: server.execution({ id: 'e9', tests: [] })
      }))
      .on('POST', /^\/assignments\/a1\/submissions$/, () => ({
        status: 201,
        body: makeSubmission({ status: 'grading', score: null })
      }));
    expect((await client.startAssignment('a1')).id).toBe(project.id);
    const check = await client.checkAssignment('a1', project.id, { wait: true });
    expect(check.status).toBe(200);
    expect(check.body.id).toBe('e9');
    expect(sent(server)).toMatchObject({
      path: '/assignments/a1/check',
      query: { wait: 'true' },
      body: { project_id: project.id }
    });
    const submission = await client.submit('a1', project.id);
    expect(submission.status).toBe('grading');
    expect(sent(server)).toMatchObject({
      method: 'POST',
      path: '/assignments/a1/submissions',
      query: {},
      body: { project_id: project.id }
    });
  });

  it('checks the notebook a student chose, and sends none when she did not', async () => {
    const { server, client } = setup();
    server.on('POST', /^\/assignments\/a1\/check$/, () => ({
      status: 200,
      body: server.execution({ id: 'e9', tests: [] })
    }));
    await client.checkAssignment('a1', 'p1', { wait: true, notebook: 'ps1/problem2.ipynb' });
    expect(sent(server).body).toEqual({ project_id: 'p1', notebook: 'ps1/problem2.ipynb' });
    await client.checkAssignment('a1', 'p1', { wait: true });
    expect(sent(server).body).toEqual({ project_id: 'p1' });
  });

  it('reads submissions, one student only when asked, and overrides a score', async () => {
    const { server, client } = setup();
    const s = makeSubmission();
    server
      .on('GET', /^\/assignments\/a1\/submissions$/, (_m, q) => ({
        status: 200,
        body: q.get('student') === 'zoe' ? [] : [s]
      }))
      .on('GET', /^\/submissions\/s1$/, () => ({ status: 200, body: s }))
      .on('PATCH', /^\/submissions\/s1$/, (_m, _q, body) => ({
        status: 200,
        body: {
          ...s,
          score: (body as { score: number }).score,
          override: { score: 3, comment: 'ok', by: 'prof', at: '2026-01-03T00:00:00Z' }
        }
      }))
      .on('GET', /^\/submissions\/s1\/results\.json$/, () => ({
        status: 200,
        body: { score: 1, tests: [] }
      }));
    expect(await client.listSubmissions('a1')).toEqual([s]);
    expect(await client.listSubmissions('a1', { student: 'zoe' })).toEqual([]);
    expect(sent(server).query).toMatchObject({ student: 'zoe' });
    expect(await client.getSubmission('s1')).toEqual(s);
    const changed = await client.overrideScore('s1', { score: 3, comment: 'ok' });
    expect(changed.override?.by).toBe('prof');
    expect(sent(server)).toMatchObject({ method: 'PATCH', body: { score: 3, comment: 'ok' } });
    await client.overrideScore('s1', { score: null });
    expect(sent(server).body).toEqual({ score: null });
    expect((await client.submissionResults('s1')).score).toBe(1);
  });

  it('regrades and reads grades as JSON and as CSV text', async () => {
    const { server, client } = setup();
    const csv = 'student,latest_score\nada,1\n';
    server
      .on('POST', /^\/assignments\/a1\/regrade$/, () => ({
        status: 202,
        body: { total: 4, pending: 4 }
      }))
      .on('GET', /^\/assignments\/a1\/grades$/, () => ({ status: 200, body: [] }))
      .on('GET', /^\/assignments\/a1\/grades\.csv$/, () => ({
        status: 200,
        text: csv,
        contentType: 'text/csv; charset=utf-8'
      }))
      .on('GET', /^\/classes\/c1\/grades$/, () => ({
        status: 200,
        body: { assignments: [], students: [] }
      }))
      .on('GET', /^\/classes\/c1\/grades\.csv$/, () => ({
        status: 200,
        text: 'student\n',
        contentType: 'text/csv'
      }));
    expect(await client.regrade('a1')).toEqual({ total: 4, pending: 4 });
    expect(await client.assignmentGrades('a1')).toEqual([]);
    expect(await client.assignmentGradesCsv('a1')).toBe(csv);
    expect(await client.classGrades('c1')).toEqual({ assignments: [], students: [] });
    expect(await client.classGradesCsv('c1')).toBe('student\n');
  });

  it('imports a roster as CSV and keeps the bad lines of a refusal', async () => {
    const { server, client } = setup();
    server.on('POST', /^\/classes\/c1\/members\.csv$/, (_m, _q, body) =>
      String(body).includes('boss')
        ? {
            status: 422,
            body: {
              message: 'the roster has bad lines',
              reason: 'invalid',
              errors: [{ field: 'line 3', message: "unknown role 'boss'" }]
            }
          }
        : {
            status: 200,
            body: {
              added: [{ name: 'ada', role: 'student' }],
              updated: [],
              unchanged: [],
              errors: []
            }
          }
    );
    expect(await client.importRoster('c1', 'name,role\nada,\n')).toEqual({
      added: [{ name: 'ada', role: 'student' }],
      updated: [],
      unchanged: [],
      errors: []
    });
    expect(sent(server)).toMatchObject({
      body: 'name,role\nada,\n',
      type: 'text/csv; charset=utf-8'
    });
    const err = (await client
      .importRoster('c1', 'name,role\nada,\nbob,boss\n')
      .catch((e: unknown) => e)) as MuscodeAPIError;
    expect(err.status).toBe(422);
    expect(err.errors).toEqual([{ field: 'line 3', message: "unknown role 'boss'" }]);
  });
});
