import { afterEach, describe, expect, it, vi } from 'vitest';

import { capabilitiesFrom, ICapabilities } from '../src/client/capabilities';
import { MuscodeClient } from '../src/client/client';
import { LanguageCatalog } from '../src/client/languages';
import { OutputModel } from '../src/run/output';
import { RunSession } from '../src/run/session';
import { FakeServer } from './fakeserver';

const STREAM = '/executions/{execution_id}/stream';
const CANCEL = '/executions/{execution_id}/cancel';

/** A websocket that the test drives from the server side. */
class FakeSocket {
  static all: FakeSocket[] = [];
  static failNext = false;
  sent: string[] = [];
  closed = false;
  onopen: ((ev: Event) => void) | null = null;
  onmessage: ((ev: MessageEvent) => void) | null = null;
  onclose: ((ev: CloseEvent) => void) | null = null;
  onerror: ((ev: Event) => void) | null = null;

  constructor(readonly url: string) {
    FakeSocket.all.push(this);
    const fail = FakeSocket.failNext;
    FakeSocket.failNext = false;
    setTimeout(() => {
      if (fail) {
        this.onerror?.(new Event('error'));
        this.onclose?.({ code: 1006 } as CloseEvent);
      } else {
        this.onopen?.(new Event('open'));
      }
    }, 0);
  }

  send(data: string): void {
    this.sent.push(data);
  }

  close(): void {
    this.closed = true;
  }

  emit(message: object): void {
    this.onmessage?.({ data: JSON.stringify(message) } as MessageEvent);
  }

  serverClose(): void {
    this.onclose?.({ code: 1000 } as CloseEvent);
  }
}

function setup(paths: string[]) {
  const server = new FakeServer();
  const client = new MuscodeClient(
    server.settings({ WebSocket: FakeSocket as unknown as typeof WebSocket })
  );
  let caps: ICapabilities = capabilitiesFrom(new Set(paths));
  const model = new OutputModel();
  const unavailable = vi.fn(() => {
    caps = { ...caps, stream: false };
  });
  const session = new RunSession({
    client: () => client,
    model,
    capabilities: () => caps,
    onStreamUnavailable: unavailable,
    pollInterval: 1
  });
  return { server, session, model, unavailable };
}

const tick = () => new Promise(resolve => setTimeout(resolve, 5));

afterEach(() => {
  FakeSocket.all = [];
});

describe('RunSession without the live channel', () => {
  it('runs with wait=true and the stdin box, and shows the result', async () => {
    const { server, session, model } = setup([]);
    server.runReplies.push({
      status: 200,
      body: server.execution({ stdout: 'Hello, Ada!\n', stderr: 'note\n' })
    });
    await session.run(
      { language: 'python', source: 'print(input())' },
      {
        interactive: true,
        stdin: 'Ada\n'
      }
    );
    const post = server.requests[0];
    expect(new URL(post.url).searchParams.get('wait')).toBe('true');
    expect(post.body).toEqual({ language: 'python', source: 'print(input())', stdin: 'Ada\n' });
    expect(model.phase).toBe('done');
    expect(model.text('stdout')).toBe('Hello, Ada!\n');
    expect(model.text('stderr')).toBe('note\n');
    expect(session.canSendInput).toBe(false);
    expect(session.canStop).toBe(false);
    expect(FakeSocket.all).toHaveLength(0);
  });

  it('polls when the wait ran out (202)', async () => {
    const { server, session, model } = setup([]);
    server.runReplies.push({
      status: 202,
      body: server.execution({ id: 'slow', status: 'running', verdict: null })
    });
    server.pollReplies.push(server.execution({ id: 'slow', status: 'running', verdict: null }));
    server.pollReplies.push(server.execution({ id: 'slow', verdict: 'time_limit_exceeded' }));
    await session.run(
      { language: 'python', source: 'while True: pass' },
      {
        interactive: false,
        stdin: ''
      }
    );
    expect(server.requests.filter(r => r.method === 'GET')).toHaveLength(2);
    expect(model.summary?.verdict).toBe('time_limit_exceeded');
  });

  it('shows the server sentence when the run is refused', async () => {
    const { server, session, model } = setup([]);
    server.runReplies.push({
      status: 413,
      body: {
        message: 'the program is 9000 bytes; the limit is 8192 bytes',
        reason: 'source_too_large'
      } as never
    });
    await session.run({ language: 'python', source: 'x' }, { interactive: false, stdin: '' });
    expect(model.phase).toBe('failed');
    expect(model.error).toBe('the program is 9000 bytes; the limit is 8192 bytes');
  });

  it('with cancel but no stream: submits without waiting, polls, and can stop', async () => {
    const { server, session, model } = setup([CANCEL]);
    server.runReplies.push({
      status: 201,
      body: server.execution({ id: 'loop', status: 'queued', verdict: null })
    });
    for (let i = 0; i < 50; i++) {
      server.pollReplies.push(server.execution({ id: 'loop', status: 'running', verdict: null }));
    }
    const running = session.run(
      { language: 'python', source: 'while 1: pass' },
      {
        interactive: false,
        stdin: ''
      }
    );
    await tick();
    expect(session.canStop).toBe(true);
    await session.stop();
    await running;
    expect(server.requests.some(r => r.url.includes('/executions/loop/cancel'))).toBe(true);
    expect(model.summary?.verdict).toBe('cancelled');
    expect(new URL(server.requests[0].url).searchParams.get('wait')).toBeNull();
  });
});

describe('RunSession with the live channel', () => {
  it('streams output, sends typed input and stops over the websocket', async () => {
    const { server, session, model } = setup([STREAM, CANCEL]);
    server.runReplies.push({
      status: 201,
      body: server.execution({ id: 'e7', status: 'queued', verdict: null })
    });
    await session.run(
      { language: 'python', project_id: 'p1', main: 'main.py' },
      {
        interactive: true,
        stdin: 'first\n'
      }
    );
    expect(server.requests[0].body).toEqual({
      language: 'python',
      project_id: 'p1',
      main: 'main.py',
      interactive: true
    });
    const ws = FakeSocket.all[0];
    expect(ws.url).toBe(
      'ws://lab.test/base/api/muscode/v1/executions/e7/stream?token=secret-token'
    );
    expect(session.link).toBe('live');
    // what the stdin box held went first
    expect(JSON.parse(ws.sent[0])).toEqual({ type: 'stdin', data: 'first\n' });
    ws.emit({ type: 'status', status: 'running', seq: 1 });
    ws.emit({ type: 'stdout', data: 'name? ', seq: 2 });
    expect(session.canSendInput).toBe(true);
    expect(session.sendInput('Ada\n')).toBe(true);
    expect(JSON.parse(ws.sent[1])).toEqual({ type: 'stdin', data: 'Ada\n' });
    expect(session.sendEof()).toBe(true);
    expect(JSON.parse(ws.sent[2])).toEqual({ type: 'eof' });
    expect(session.canSendInput).toBe(false);
    expect(session.canStop).toBe(true);
    await session.stop();
    expect(JSON.parse(ws.sent[3])).toEqual({ type: 'cancel' });
    ws.emit({
      type: 'done',
      result: server.execution({ id: 'e7', verdict: 'cancelled', stdout: 'name? ' })
    });
    expect(model.phase).toBe('done');
    expect(model.summary?.verdict).toBe('cancelled');
    expect(model.chunks.map(c => c.kind)).toEqual(['stdin', 'stdout', 'stdin']);
    expect(ws.closed).toBe(true);
    expect(session.link).toBe('none');
  });

  it('sends the stdin box with the request when input is not interactive', async () => {
    const { server, session } = setup([STREAM]);
    server.runReplies.push({
      status: 201,
      body: server.execution({ id: 'e8', status: 'queued', verdict: null })
    });
    await session.run({ language: 'python', source: 'x' }, { interactive: false, stdin: 'abc' });
    expect(server.requests[0].body).toEqual({ language: 'python', source: 'x', stdin: 'abc' });
    expect(FakeSocket.all[0].sent).toEqual([]);
    expect(session.canSendInput).toBe(false);
  });

  it('falls back to polling when the websocket cannot be opened', async () => {
    const { server, session, model, unavailable } = setup([STREAM]);
    server.runReplies.push({
      status: 201,
      body: server.execution({ id: 'e9', status: 'queued', verdict: null })
    });
    server.pollReplies.push(server.execution({ id: 'e9', stdout: 'polled\n' }));
    FakeSocket.failNext = true;
    await session.run(
      { language: 'python', source: 'print(1)' },
      {
        interactive: false,
        stdin: ''
      }
    );
    expect(unavailable).toHaveBeenCalledOnce();
    expect(model.text()).toBe('polled\n');
    expect(model.phase).toBe('done');
  });

  it('fetches the result when the socket closes before it came', async () => {
    const { server, session, model } = setup([STREAM]);
    server.runReplies.push({
      status: 201,
      body: server.execution({ id: 'e10', status: 'queued', verdict: null })
    });
    server.pollReplies.push(server.execution({ id: 'e10', stdout: 'all\n' }));
    await session.run({ language: 'python', source: 'x' }, { interactive: false, stdin: '' });
    FakeSocket.all[0].emit({ type: 'stdout', data: 'al' });
    FakeSocket.all[0].serverClose();
    await tick();
    await tick();
    expect(model.phase).toBe('done');
    // the streamed part stays; the verdict comes from the fetched result
    expect(model.text()).toBe('al');
    expect(model.summary?.verdict).toBe('accepted');
  });

  it('ignores a previous run once a new one starts', async () => {
    const { server, session, model } = setup([STREAM]);
    server.runReplies.push({
      status: 201,
      body: server.execution({ id: 'old', status: 'queued', verdict: null })
    });
    server.runReplies.push({
      status: 201,
      body: server.execution({ id: 'new', status: 'queued', verdict: null })
    });
    await session.run({ language: 'python', source: '1' }, { interactive: false, stdin: '' });
    const first = FakeSocket.all[0];
    await session.run({ language: 'python', source: '2' }, { interactive: false, stdin: '' });
    first.emit({ type: 'stdout', data: 'stale' });
    FakeSocket.all[1].emit({ type: 'stdout', data: 'fresh' });
    expect(first.closed).toBe(true);
    expect(model.text()).toBe('fresh');
    expect(model.executionId).toBe('new');
  });
});

describe('LanguageCatalog', () => {
  const catalog = new LanguageCatalog([
    { id: 'c', name: 'C', version: '12', extensions: ['.c'], compiled: true, available: true },
    {
      id: 'cpp',
      name: 'C++',
      version: '12',
      extensions: ['.cpp', '.cc'],
      compiled: true,
      available: true
    },
    {
      id: 'php',
      name: 'PHP',
      version: null,
      extensions: ['.php'],
      compiled: false,
      available: false
    },
    {
      id: 'py2',
      name: 'Old Python',
      version: null,
      extensions: ['.py'],
      compiled: false,
      available: false
    },
    {
      id: 'python',
      name: 'Python',
      version: '3',
      extensions: ['.py'],
      compiled: false,
      available: true
    }
  ]);

  it('lists only available languages', () => {
    expect(catalog.available.map(l => l.id)).toEqual(['c', 'cpp', 'python']);
  });

  it('finds the language of a path by extension, an available one first', () => {
    expect(catalog.forPath('MUSCode:proj/src/Main.CC')?.id).toBe('cpp');
    expect(catalog.forPath('a/b.py')?.id).toBe('python');
    expect(catalog.forPath('index.php')?.id).toBe('php');
    expect(catalog.forPath('Makefile')).toBeUndefined();
    expect(catalog.forPath('.bashrc')).toBeUndefined();
  });
});
