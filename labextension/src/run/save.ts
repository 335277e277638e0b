/**
 * Save what the student typed before MUSCode runs or grades a project: every open,
 * unsaved editor of the project's files on the MUSCode drive. A run, a Check or a
 * Submit works on the saved files, so an unsaved edit would silently not count.
 */
import type { IDocumentManager } from '@jupyterlab/docmanager';
import type { DocumentRegistry } from '@jupyterlab/docregistry';
import type { TranslationBundle } from '@jupyterlab/translation';
import type { Widget } from '@lumino/widgets';

import type { MuscodeDrive } from '../drive/drive';
import { describeError } from '../request';

export interface ISaveOptions {
  docManager: IDocumentManager;
  drive: MuscodeDrive;
  /** The widgets open in the main area (where editors live). */
  widgets: () => Iterable<Widget>;
  trans: TranslationBundle;
}

/** The first path segment of a drive path: the project's folder. */
function projectFolder(localPath: string): string {
  return localPath.split('/').filter(Boolean)[0] ?? '';
}

/**
 * Save each open, unsaved document of the project `projectId` on the MUSCode drive.
 * Resolves with the paths saved. Rejects, saying which file and why, when one could
 * not be saved (or the student cancelled its save): then nothing should go on.
 */
export async function saveProjectEditors(
  options: ISaveOptions,
  projectId: string
): Promise<string[]> {
  const { docManager, drive, trans } = options;
  const contents = docManager.services.contents;
  const dirty = new Set<DocumentRegistry.Context>();
  for (const widget of options.widgets()) {
    const context = docManager.contextForWidget(widget);
    if (context && context.model.dirty && contents.driveName(context.path) === drive.name) {
      dirty.add(context);
    }
  }
  const saved: string[] = [];
  for (const context of dirty) {
    const local = contents.localPath(context.path);
    let project;
    try {
      project = await drive.project(projectFolder(local));
    } catch {
      continue; // not a project of the caller's (any more): not this one's
    }
    if (project.id !== projectId) {
      continue;
    }
    const name = local.split('/').pop() ?? local;
    try {
      await context.save();
    } catch (err) {
      const cancelled = err instanceof Error && err.name === 'ModalCancelError';
      throw new Error(
        cancelled
          ? trans.__('%1 was not saved, so nothing was done: save it, then try again.', name)
          : trans.__('Could not save %1, so nothing was done: %2', name, describeError(err))
      );
    }
    if (context.model.dirty) {
      throw new Error(
        trans.__('%1 was not saved, so nothing was done: save it, then try again.', name)
      );
    }
    saved.push(local);
  }
  return saved;
}
