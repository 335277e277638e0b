import { nullTranslator } from '@jupyterlab/translation';
import { describe, expect, it } from 'vitest';

import { executedTitle, notebookOutcome, notebookProgress } from '../src/nbrun/outcome';
import { bundleOf, cellsOf } from '../src/nbrun/cells';
import { OutputModel, parseStreamMessage } from '../src/run/output';
import type { CellResult } from '../src/types';
import { FakeServer } from './fakeserver';

const trans = nullTranslator.load('muscode');
const server = new FakeServer();

function cell(index: number, overrides: Partial<CellResult> = {}): CellResult {
  return {
    index,
    cell_id: `c${index}`,
    status: 'ok',
    time_ms: 3,
    ename: null,
    evalue: null,
    ...overrides
  };
}

describe('a notebook run on the live channel', () => {
  it('reads cell progress and refuses malformed cell messages', () => {
    expect(parseStreamMessage('{"type":"cell","index":2,"status":"running","seq":4}')).toEqual({
      type: 'cell',
      index: 2,
      status: 'running',
      time_ms: null,
      ename: null,
      evalue: null
    });
    const ended = '{"type":"cell","index":1,"status":"error","time_ms":7,"ename":"E","evalue":"v"}';
    expect(parseStreamMessage(ended)).toMatchObject({ status: 'error', ename: 'E', evalue: 'v' });
    expect(parseStreamMessage('{"type":"cell","index":-1,"status":"ok"}')).toBeNull();
    expect(parseStreamMessage('{"type":"cell","index":1,"status":"maybe"}')).toBeNull();
    expect(parseStreamMessage('{"type":"cell","status":"ok"}')).toBeNull();
  });

  it('follows the running cell and says so, then names the failing cell', () => {
    const model = new OutputModel();
    model.start();
    expect(notebookProgress(trans, model)).toBe('Saving and starting…');
    model.accepted(server.execution({ status: 'queued', verdict: null }));
    expect(notebookProgress(trans, model)).toBe('Waiting for the sandbox…');
    model.apply({ type: 'status', status: 'running' });
    expect(notebookProgress(trans, model)).toBe('Starting the kernel…');
    model.apply({ type: 'cell', index: 0, status: 'running' });
    expect(model.runningCell).toBe(0);
    expect(notebookProgress(trans, model)).toBe('Running cell 1…');
    model.apply({ type: 'stdout', data: 'hello\n' });
    model.apply({ type: 'cell', index: 0, status: 'ok', time_ms: 2 });
    model.apply({ type: 'cell', index: 2, status: 'running' });
    expect(notebookProgress(trans, model)).toBe('Running cell 3…');
    model.apply({ type: 'cell', index: 2, status: 'error', ename: 'ZeroDivisionError' });
    expect(model.cellsDone).toBe(2);
    expect(model.runningCell).toBeNull();
    const result = server.execution({
      verdict: 'runtime_error',
      message: 'Cell 2 raised ZeroDivisionError: division by zero',
      cells: [
        cell(0),
        cell(2, { status: 'error', ename: 'ZeroDivisionError', evalue: 'division by zero' }),
        cell(3, { status: 'not_run', time_ms: null })
      ]
    });
    model.apply({ type: 'done', result });
    expect(model.phase).toBe('done');
    expect(notebookProgress(trans, model)).toBe(
      'Runtime error in cell 3: ZeroDivisionError: division by zero'
    );
    // a late cell message does not reopen a finished run
    model.apply({ type: 'cell', index: 3, status: 'running' });
    expect(model.runningCell).toBeNull();
  });

  it('words the other outcomes', () => {
    const ok = server.execution({ cells: [cell(0), cell(1), cell(2, { status: 'not_run' })] });
    expect(notebookOutcome(trans, ok)).toBe('Accepted · 2 cells ran');
    const one = server.execution({ cells: [cell(0)] });
    expect(notebookOutcome(trans, one)).toBe('Accepted · 1 cell ran');
    const slow = server.execution({
      verdict: 'time_limit_exceeded',
      message: 'The run passed its deadline.'
    });
    expect(notebookOutcome(trans, slow)).toBe('Time limit exceeded: The run passed its deadline.');
    expect(notebookOutcome(trans, server.execution({ verdict: 'cancelled' }))).toBe('Stopped');
    expect(executedTitle(trans, 'MUSCode:lab/week1/main.ipynb')).toBe(
      'main.ipynb — run in sandbox'
    );
  });
});

describe('the executed copy', () => {
  it('reads the cells of an nbformat 4 document, and nothing of anything else', () => {
    const notebook = {
      nbformat: 4,
      cells: [
        { cell_type: 'markdown', source: ['# Title\n', 'text'], metadata: {} },
        {
          cell_type: 'code',
          source: 'print(1)',
          execution_count: 1,
          outputs: [{ output_type: 'stream', name: 'stdout', text: ['1\n'] }]
        },
        'not a cell'
      ]
    };
    const cells = cellsOf(notebook);
    expect(cells.map(c => [c.cell_type, c.source, c.execution_count])).toEqual([
      ['markdown', '# Title\ntext', null],
      ['code', 'print(1)', 1]
    ]);
    expect(cells[1].outputs).toHaveLength(1);
    expect(cellsOf(null)).toEqual([]);
    expect(cellsOf({ cells: 'no' })).toEqual([]);
  });

  it('turns outputs into mime bundles for the renderers', () => {
    expect(bundleOf({ output_type: 'stream', name: 'stdout', text: 'hi\n' })).toEqual({
      'application/vnd.jupyter.stdout': 'hi\n'
    });
    expect(bundleOf({ output_type: 'stream', name: 'stderr', text: ['a', 'b'] })).toEqual({
      'application/vnd.jupyter.stderr': 'ab'
    });
    const error = { output_type: 'error', ename: 'KeyError', evalue: "'x'", traceback: [] };
    expect(bundleOf(error)).toEqual({ 'application/vnd.jupyter.stderr': "KeyError: 'x'" });
    const tb = { ...error, traceback: ['Traceback', "KeyError: 'x'"] };
    expect(bundleOf(tb)).toEqual({ 'application/vnd.jupyter.stderr': "Traceback\nKeyError: 'x'" });
    const data = { 'text/plain': '2' };
    expect(bundleOf({ output_type: 'execute_result', data, metadata: {} })).toEqual(data);
    expect(bundleOf({ output_type: 'unknown' })).toBeNull();
  });
});
