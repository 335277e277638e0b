/**
 * A stale save: the question the MUSCode drive asks when someone saved a newer version
 * of a file meanwhile.
 */
import { Dialog, showDialog } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import type { FileMeta } from '../types';

/** How the user settled a stale save. */
export type ConflictChoice = 'overwrite' | 'reload' | 'cancel';

export interface IConflict {
  /** The path in the drive, e.g. `hello/main.py`. */
  path: string;
  /** The version the editor holds (null: the editor never loaded this file). */
  baseVersion: number | null;
  /** The file as it is on the server now. */
  current: FileMeta;
}

/** Stale save: reload the server's version, overwrite it, or keep editing. */
export async function askConflict(
  trans: TranslationBundle,
  conflict: IConflict
): Promise<ConflictChoice> {
  const body = document.createElement('div');
  body.className = 'muscode-ConflictBody';
  const p1 = document.createElement('p');
  p1.textContent =
    conflict.baseVersion === null
      ? trans.__(
          '"%1" already exists on the MUSCode server (version %2).',
          conflict.path,
          String(conflict.current.version)
        )
      : trans.__(
          '"%1" was saved from somewhere else since you opened it: the server has version %2, your editor is based on version %3.',
          conflict.path,
          String(conflict.current.version),
          String(conflict.baseVersion)
        );
  const p2 = document.createElement('p');
  p2.textContent = trans.__(
    'Reload to get the server version (your unsaved changes here are dropped), Overwrite to replace it with yours, or Cancel to keep editing without saving.'
  );
  body.append(p1, p2);
  const widget = new Widget({ node: body });
  const result = await showDialog({
    title: trans.__('File changed on the server'),
    body: widget,
    buttons: [
      Dialog.cancelButton({ label: trans.__('Cancel'), actions: ['cancel'] }),
      Dialog.okButton({ label: trans.__('Reload'), actions: ['reload'] }),
      Dialog.warnButton({ label: trans.__('Overwrite'), actions: ['overwrite'] })
    ],
    defaultButton: 0
  });
  if (result.button.actions.includes('overwrite')) {
    return 'overwrite';
  }
  if (result.button.actions.includes('reload')) {
    return 'reload';
  }
  return 'cancel';
}
