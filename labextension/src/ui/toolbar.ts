/**
 * The MUSCode buttons of an editor's toolbar. Two plugins add them (Run, Edit live);
 * whichever comes first, they end up first in the toolbar, in this order.
 */
import type { Toolbar } from '@jupyterlab/ui-components';
import type { Widget } from '@lumino/widgets';

/** The names of the MUSCode items of an editor's toolbar, from the left. */
export const EDITOR_ITEMS = ['muscode-run', 'muscode-live'] as const;

/** Insert one of `EDITOR_ITEMS` at its place at the start of `toolbar`. */
export function insertEditorItem(
  toolbar: Toolbar<Widget>,
  name: (typeof EDITOR_ITEMS)[number],
  item: Widget
): void {
  const rank = EDITOR_ITEMS.indexOf(name);
  const before = EDITOR_ITEMS.slice(0, rank) as readonly string[];
  const at = Array.from(toolbar.names()).filter(n => before.includes(n)).length;
  toolbar.insertItem(at, name, item);
}
