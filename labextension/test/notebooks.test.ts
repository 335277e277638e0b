import { nullTranslator } from '@jupyterlab/translation';
import { describe, expect, it } from 'vitest';

import { studentTest } from '../src/assignments/model';
import {
  byNotebook,
  cellLabel,
  checkableNotebooks,
  checkedCells,
  manualScoreKey,
  manualScores,
  notebookPaths,
  testsFact,
  withSourceNotebooks
} from '../src/assignments/nbmodel';
import type { SubmissionTest } from '../src/types';
import { makeAssignment } from './fakeserver';

const trans = nullTranslator.load('muscode');

describe('cells of several notebooks', () => {
  it('groups cells by notebook, notebooks in the order they first appear', () => {
    const cells = [
      { name: 'test_a', notebook: 'week1/a.ipynb' },
      { name: 'test_b', notebook: 'b.ipynb' },
      { name: 'explain', notebook: 'week1/a.ipynb' },
      { name: 'test_a', notebook: 'b.ipynb' }
    ];
    expect(byNotebook(cells)).toEqual([
      { notebook: 'week1/a.ipynb', cells: [cells[0], cells[2]] },
      { notebook: 'b.ipynb', cells: [cells[1], cells[3]] }
    ]);
  });

  it("puts cells the server names no notebook for in the assignment's one notebook", () => {
    const cells = [{ name: 'test_a' }, { name: 'explain', notebook: null }];
    expect(byNotebook(cells, 'lab.ipynb')).toEqual([{ notebook: 'lab.ipynb', cells }]);
    expect(byNotebook(cells)).toEqual([{ notebook: '', cells }]);
    expect(byNotebook([])).toEqual([]);
  });

  it('keys a manual score by notebook and grade_id when the cell has a notebook', () => {
    expect(manualScoreKey({ name: 'explain', notebook: 'week1/a.ipynb' })).toBe(
      'week1/a.ipynb:explain'
    );
    expect(manualScoreKey({ name: 'explain' })).toBe('explain');
    expect(manualScoreKey({ name: 'explain', notebook: null })).toBe('explain');
  });

  it('names a cell by its grade_id in one notebook, by its key among several', () => {
    // the server names the notebook of every cell, of one notebook too
    const one = [
      { name: 'explain', notebook: 'squares.ipynb' },
      { name: 'describe', notebook: 'squares.ipynb' }
    ];
    expect(one.map(c => cellLabel(c, one))).toEqual(['explain', 'describe']);
    const several = [
      { name: 'explain', notebook: 'ps1/problem1.ipynb' },
      { name: 'explain', notebook: 'ps1/problem2.ipynb' }
    ];
    expect(several.map(c => cellLabel(c, several))).toEqual([
      'ps1/problem1.ipynb:explain',
      'ps1/problem2.ipynb:explain'
    ]);
    const unnamed = [{ name: 'explain' }, { name: 'style', notebook: null }];
    expect(unnamed.map(c => cellLabel(c, unnamed))).toEqual(['explain', 'style']);
  });

  it("sends staff's scores by those keys; an emptied field removes only a staff score", () => {
    const cells = [
      { name: 'explain', notebook: 'a.ipynb', scored_by_staff: false },
      { name: 'explain', notebook: 'b.ipynb', scored_by_staff: true },
      { name: 'describe', notebook: 'b.ipynb', scored_by_staff: false },
      { name: 'style', scored_by_staff: true }
    ];
    const values = {
      'a.ipynb:explain': '2',
      'b.ipynb:explain': ' ',
      'b.ipynb:describe': '',
      style: '0.5'
    };
    expect(manualScores(cells, values)).toEqual({
      'a.ipynb:explain': 2,
      'b.ipynb:explain': null,
      style: 0.5
    });
  });

  it('keeps the notebook of a hidden test shown to a student, and nothing else', () => {
    const hidden = {
      name: 'test_hidden',
      hidden: true,
      points: 2,
      points_awarded: 0,
      passed: false,
      verdict: 'runtime_error',
      message: 'secret',
      notebook: 'b.ipynb'
    } as SubmissionTest;
    expect(studentTest(hidden)).toEqual({
      name: 'test_hidden',
      hidden: true,
      points: 2,
      points_awarded: 0,
      passed: false,
      notebook: 'b.ipynb'
    });
  });
});

describe("checking one of an assignment's notebooks", () => {
  const a = makeAssignment({
    format: 'nbgrader',
    tests: [
      { name: 'q1', points: 1, hidden: false, notebook: 'ps1/problem1.ipynb' },
      { name: 'q2', points: 2, hidden: true, notebook: 'ps1/problem1.ipynb' },
      { name: 'q0', points: 1, hidden: true, notebook: 'ps1/intro.ipynb' },
      { name: 'q1', points: 1, hidden: false, notebook: 'ps1/problem2.ipynb' },
      { name: 'q2', points: 1, hidden: false, notebook: 'ps1/problem2.ipynb' }
    ]
  });

  it('offers the notebooks with visible test cells, in their order', () => {
    expect(checkableNotebooks(a)).toEqual(['ps1/problem1.ipynb', 'ps1/problem2.ipynb']);
    const unnamed = { ...a, tests: [{ name: 'q1', points: 1, hidden: false }] };
    expect(checkableNotebooks(unnamed)).toEqual([]);
    expect(checkableNotebooks(makeAssignment())).toEqual([]);
  });

  it("lists the visible cells of the checked notebook only (another's q2 is hidden here)", () => {
    expect(checkedCells(a, 'ps1/problem1.ipynb')).toEqual(new Set(['q1']));
    expect(checkedCells(a, 'ps1/problem2.ipynb')).toEqual(new Set(['q1', 'q2']));
    // not named: the server ran its default, the cells of every notebook are candidates
    expect(checkedCells(a, '')).toEqual(new Set(['q1', 'q2']));
  });
});

describe('importing source notebooks', () => {
  it('puts each imported notebook in place of the file of its path, in the chosen order', () => {
    const data = { path: 'numbers.csv', content: '1,2\n' };
    const old = { path: 'b.ipynb', content: 'old' };
    const a = { path: 'a.ipynb', content: 'A' };
    const b = { path: 'b.ipynb', content: 'B' };
    expect(withSourceNotebooks([data, old], [a, b])).toEqual([a, data, b]);
    expect(withSourceNotebooks([], [a, b])).toEqual([a, b]);
    expect(notebookPaths([a, data, b])).toEqual(['a.ipynb', 'b.ipynb']);
  });
});

describe("a student's facts line", () => {
  it('counts tests of an assignment that runs the program', () => {
    expect(testsFact(trans, makeAssignment())).toEqual({
      term: 'Tests',
      text: '1 visible, 1 hidden; 3 points'
    });
  });

  it("counts a notebook assignment's cells, and those the teacher grades", () => {
    const a = makeAssignment({
      format: 'nbgrader',
      tests: [
        { name: 'test_a', points: 1, hidden: false },
        { name: 'test_b', points: 1, hidden: false },
        { name: 'test_c', points: 2, hidden: true }
      ],
      manual: [{ name: 'explain', points: 2 }],
      max_score: 6
    });
    expect(testsFact(trans, a)).toEqual({
      term: 'Graded cells',
      text: '3 test cells (2 visible, 1 hidden), 1 graded by your teacher; 6 points'
    });
    const one = { ...a, tests: [a.tests[0]], manual: [], max_score: 1 };
    expect(testsFact(trans, one).text).toBe('1 test cell (1 visible, 0 hidden); 1 point');
  });
});
