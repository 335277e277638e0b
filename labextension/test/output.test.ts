import { describe, expect, it } from 'vitest';

import {
  endsRun,
  formatDuration,
  formatMemory,
  OutputModel,
  parseStreamMessage
} from '../src/run/output';
import { FakeServer } from './fakeserver';

const server = new FakeServer();

describe('OutputModel', () => {
  it('keeps stdout and stderr apart, in arrival order, merging neighbours', () => {
    const model = new OutputModel();
    let changes = 0;
    model.changed.connect(() => changes++);
    model.start();
    model.accepted(server.execution({ status: 'queued', verdict: null }));
    expect(model.phase).toBe('queued');
    model.apply({ type: 'status', status: 'running' });
    model.apply({ type: 'stdout', data: 'a' });
    model.apply({ type: 'stdout', data: 'b\n' });
    model.apply({ type: 'stderr', data: 'oops\n' });
    model.apply({ type: 'stdout', data: 'c\n' });
    expect(model.chunks).toEqual([
      { kind: 'stdout', text: 'ab\n' },
      { kind: 'stderr', text: 'oops\n' },
      { kind: 'stdout', text: 'c\n' }
    ]);
    expect(model.text('stdout')).toBe('ab\nc\n');
    expect(model.text()).toBe('ab\noops\nc\n');
    expect(model.running).toBe(true);
    expect(changes).toBeGreaterThanOrEqual(6);
  });

  it('shows typed input as its own kind of chunk', () => {
    const model = new OutputModel();
    model.start();
    model.apply({ type: 'stdout', data: 'name? ' });
    model.echoInput('Ada\n');
    model.apply({ type: 'stdout', data: 'Hi Ada\n' });
    expect(model.chunks.map(c => c.kind)).toEqual(['stdout', 'stdin', 'stdout']);
  });

  it('keeps streamed output when the result comes, and takes verdict and numbers', () => {
    const model = new OutputModel();
    model.start();
    model.apply({ type: 'stdout', data: 'live\n' });
    model.apply({
      type: 'done',
      result: server.execution({ stdout: 'live\n', exit_code: 0, time_ms: 1500, memory_kb: 2048 })
    });
    expect(model.phase).toBe('done');
    expect(model.running).toBe(false);
    expect(model.text()).toBe('live\n');
    expect(model.summary).toMatchObject({
      verdict: 'accepted',
      exitCode: 0,
      timeMs: 1500,
      memoryKb: 2048,
      truncated: false
    });
  });

  it('fills the output from the result of a run without the live channel', () => {
    const model = new OutputModel();
    model.start();
    model.finish(
      server.execution({
        verdict: 'runtime_error',
        exit_code: 1,
        stdout: 'partial\n',
        stderr: 'Traceback\n',
        truncated: { stdout: true, stderr: false }
      })
    );
    expect(model.chunks).toEqual([
      { kind: 'stdout', text: 'partial\n' },
      { kind: 'stderr', text: 'Traceback\n' }
    ]);
    expect(model.summary?.verdict).toBe('runtime_error');
    expect(model.summary?.truncated).toBe(true);
  });

  it('exposes the compiler output of a compile error', () => {
    const model = new OutputModel();
    model.start();
    model.finish(
      server.execution({
        verdict: 'compile_error',
        exit_code: null,
        compile_output: "main.c:4:5: error: expected ';'\n"
      })
    );
    expect(model.compileOutput).toContain("expected ';'");
    expect(model.text()).toBe('');
  });

  it('caps what it keeps and says so', () => {
    const model = new OutputModel({ maxChars: 10 });
    model.start();
    model.apply({ type: 'stdout', data: '0123456' });
    model.apply({ type: 'stderr', data: 'abcdef' });
    model.apply({ type: 'stdout', data: 'more' });
    expect(model.text()).toBe('0123456abc');
    expect(model.clipped).toBe(true);
  });

  it('records a failure to run, and forgets everything on reset', () => {
    const model = new OutputModel();
    model.start();
    model.fail('Python is not available on this MUSCode server');
    expect(model.phase).toBe('failed');
    expect(model.error).toContain('not available');
    model.apply({ type: 'status', status: 'running' });
    expect(model.phase).toBe('failed');
    model.reset();
    expect(model.phase).toBe('idle');
    expect(model.error).toBeNull();
    expect(model.summary).toBeNull();
  });

  it('applies an error message of the live channel as a failure', () => {
    const model = new OutputModel();
    model.start();
    model.apply({ type: 'error', message: 'the run was lost', reason: 'internal' });
    expect(model.phase).toBe('failed');
    expect(model.error).toBe('the run was lost');
  });

  it('shows a refused input as a warning while the run goes on', () => {
    const model = new OutputModel();
    model.start();
    const full = {
      type: 'error' as const,
      message: 'the program has not read its stdin: this input was dropped',
      reason: 'stdin_backlog_full'
    };
    expect(endsRun(full)).toBe(false);
    model.apply(full);
    expect(model.running).toBe(true);
    expect(model.error).toBeNull();
    expect(model.warning).toContain('dropped');
    model.apply({ type: 'stdout', data: 'still here\n' });
    expect(model.text('stdout')).toBe('still here\n');
    expect(endsRun({ type: 'error', message: 'lost', reason: 'internal' })).toBe(true);
    model.reset();
    expect(model.warning).toBeNull();
  });
});

describe('parseStreamMessage', () => {
  it('accepts the messages of the contract', () => {
    expect(parseStreamMessage('{"type":"stdout","data":"x","seq":2}')).toEqual({
      type: 'stdout',
      data: 'x'
    });
    expect(parseStreamMessage('{"type":"status","status":"running"}')).toEqual({
      type: 'status',
      status: 'running'
    });
    const done = parseStreamMessage(JSON.stringify({ type: 'done', result: server.execution() }));
    expect(done?.type).toBe('done');
    expect(parseStreamMessage('{"type":"error","message":"m","reason":"r"}')).toEqual({
      type: 'error',
      message: 'm',
      reason: 'r'
    });
  });

  it('drops anything else', () => {
    for (const raw of [
      'not json',
      '42',
      'null',
      '{"type":"stdout"}',
      '{"type":"status","status":"sleeping"}',
      '{"type":"done","result":{"id":1}}',
      '{"type":"telemetry","data":"x"}'
    ]) {
      expect(parseStreamMessage(raw)).toBeNull();
    }
  });
});

describe('formatting', () => {
  it('formats durations and memory', () => {
    expect(formatDuration(null)).toBe('–');
    expect(formatDuration(850)).toBe('850 ms');
    expect(formatDuration(1234)).toBe('1.23 s');
    expect(formatMemory(undefined)).toBe('–');
    expect(formatMemory(812)).toBe('812 KB');
    expect(formatMemory(12595)).toBe('12.3 MB');
  });
});
