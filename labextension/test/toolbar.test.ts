import type { Toolbar } from '@jupyterlab/ui-components';
import type { Widget } from '@lumino/widgets';
import { describe, expect, it } from 'vitest';

import { insertEditorItem } from '../src/ui/toolbar';

/** The part of a toolbar `insertEditorItem` uses: names in order, and inserting. */
class FakeToolbar {
  items = ['save', 'cut', 'copy'];

  names(): IterableIterator<string> {
    return this.items[Symbol.iterator]();
  }

  insertItem(index: number, name: string): boolean {
    this.items.splice(index, 0, name);
    return true;
  }
}

function insert(order: Array<'muscode-run' | 'muscode-live'>): string[] {
  const fake = new FakeToolbar();
  const toolbar = fake as unknown as Toolbar<Widget>;
  for (const name of order) {
    insertEditorItem(toolbar, name, {} as Widget);
  }
  return fake.items;
}

describe("the MUSCode items of an editor's toolbar", () => {
  it('come first, Run then Edit live, whichever plugin adds its item first', () => {
    const expected = ['muscode-run', 'muscode-live', 'save', 'cut', 'copy'];
    expect(insert(['muscode-run', 'muscode-live'])).toEqual(expected);
    expect(insert(['muscode-live', 'muscode-run'])).toEqual(expected);
  });

  it('come first when only one is there', () => {
    expect(insert(['muscode-live'])).toEqual(['muscode-live', 'save', 'cut', 'copy']);
  });
});
