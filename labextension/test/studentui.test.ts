import { nullTranslator } from '@jupyterlab/translation';
import { describe, expect, it } from 'vitest';

import { myProgress } from '../src/assignments/progress';
import { LanguageCatalog } from '../src/client/languages';
import { runLanguage } from '../src/run/language';
import { OutputModel, parseStreamMessage } from '../src/run/output';
import { runOutcomeLabel, verdictLabel } from '../src/run/verdict';
import { FakeServer, makeAssignment, makeSubmission } from './fakeserver';

const trans = nullTranslator.load('muscode');

describe('the outcome of a run in words', () => {
  const plain = { judged: false, signal: null };

  it('says Finished for a plain run that exited 0, not Accepted', () => {
    expect(runOutcomeLabel(trans, { ...plain, verdict: 'accepted', exitCode: 0 })).toBe(
      'Finished · exit 0'
    );
  });

  it('says which code a plain run exited with', () => {
    expect(runOutcomeLabel(trans, { ...plain, verdict: 'runtime_error', exitCode: 3 })).toBe(
      'Exited with code 3'
    );
  });

  it('keeps Runtime error for a run killed by a signal, and the limits as they are', () => {
    expect(
      runOutcomeLabel(trans, {
        judged: false,
        verdict: 'runtime_error',
        exitCode: null,
        signal: 11
      })
    ).toBe('Runtime error');
    expect(
      runOutcomeLabel(trans, { ...plain, verdict: 'time_limit_exceeded', exitCode: null })
    ).toBe('Time limit exceeded');
    expect(runOutcomeLabel(trans, { ...plain, verdict: 'compile_error', exitCode: null })).toBe(
      'Compile error'
    );
  });

  it('keeps the verdict words for a run with tests or an expected output', () => {
    const judged = { judged: true, signal: null };
    expect(runOutcomeLabel(trans, { ...judged, verdict: 'accepted', exitCode: 0 })).toBe(
      verdictLabel(trans, 'accepted')
    );
    expect(runOutcomeLabel(trans, { ...judged, verdict: 'wrong_answer', exitCode: 0 })).toBe(
      'Wrong answer'
    );
    expect(runOutcomeLabel(trans, { ...judged, verdict: 'runtime_error', exitCode: 1 })).toBe(
      'Runtime error'
    );
  });
});

describe('the language of a run panel', () => {
  const lang = (id: string, ext: string) => ({
    id,
    name: id,
    version: null,
    extensions: [ext],
    compiled: false,
    available: true
  });
  const catalog = new LanguageCatalog([lang('c', '.c'), lang('python', '.py')]);

  it('follows the file by its extension', () => {
    expect(runLanguage(catalog, 'MUSCode:p/main.py', null)).toBe('python');
    expect(runLanguage(catalog, 'MUSCode:p/main.c', null)).toBe('c');
    expect(runLanguage(catalog, 'MUSCode:p/Makefile', null)).toBe('');
  });

  it('keeps a language chosen on purpose for that file only', () => {
    const chosen = { path: 'MUSCode:p/main.c', id: 'python' };
    expect(runLanguage(catalog, 'MUSCode:p/main.c', chosen)).toBe('python');
    // renamed, or another file: the file decides again
    expect(runLanguage(catalog, 'MUSCode:p/main.py', chosen)).toBe('python');
    expect(runLanguage(catalog, 'MUSCode:p/other.c', chosen)).toBe('c');
    expect(runLanguage(catalog, 'MUSCode:p/main.py', { path: 'MUSCode:p/main.c', id: 'c' })).toBe(
      'python'
    );
  });

  it('ignores a choice the server no longer knows', () => {
    expect(runLanguage(catalog, 'x.py', { path: 'x.py', id: 'cobol' })).toBe('python');
  });
});

describe('the idle limit of an interactive run', () => {
  const server = new FakeServer();

  it('is read from a status message when the server sends one', () => {
    expect(parseStreamMessage('{"type":"status","status":"running","idle_ms":300000}')).toEqual({
      type: 'status',
      status: 'running',
      idle_ms: 300000
    });
    const model = new OutputModel();
    model.start();
    model.apply({ type: 'status', status: 'running', idle_ms: 120000 });
    expect(model.idleMs).toBe(120000);
  });

  it('is read from the run limits, and unknown without either', () => {
    const model = new OutputModel();
    model.start();
    model.accepted(server.execution({ status: 'queued', verdict: null }));
    expect(model.idleMs).toBeNull();
    expect(parseStreamMessage('{"type":"status","status":"running","idle_ms":"x"}')).toEqual({
      type: 'status',
      status: 'running'
    });
    const withLimit = server.execution({ status: 'running', verdict: null });
    withLimit.limits = { ...(withLimit.limits ?? {}), idle_ms: 60000 } as typeof withLimit.limits;
    model.accepted(withLimit);
    expect(model.idleMs).toBe(60000);
    model.start();
    expect(model.idleMs).toBeNull();
  });
});

describe("a student's progress, from their submissions", () => {
  it('takes status, best score and attempts from the same submissions', () => {
    const a = makeAssignment({ max_score: 6 });
    // the assignment's own summary is older than the submissions (regraded, overridden)
    a.my = { ...a.my, attempts: 1, best_score: 3, latest_score: 3 };
    const first = makeSubmission({ id: 's1', attempt: 1, score: 4, max_score: 6 });
    const second = makeSubmission({ id: 's2', attempt: 2, score: 2, max_score: 6 });
    const p = myProgress(a, [first, second]);
    expect(p.attempts).toBe(2);
    expect(p.latest?.id).toBe('s2');
    expect(p.best?.id).toBe('s1');
    expect(p.grading).toBe(false);
  });

  it('says grading while the newest is graded again, and has no best without a score', () => {
    const a = makeAssignment();
    const regrading = makeSubmission({ id: 's1', status: 'grading', score: null });
    const p = myProgress(a, [regrading]);
    expect(p.grading).toBe(true);
    expect(p.best).toBeNull();
    expect(myProgress(a, []).latest).toBeNull();
  });
});
