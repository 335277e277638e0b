/**
 * A student's project (or one file of it) opened read-only for the class staff, in
 * JupyterLab's own editor over the `MUSCodeReview:` drive.
 */
import { IDocumentManager } from '@jupyterlab/docmanager';
import { FileEditor } from '@jupyterlab/fileeditor';
import { TranslationBundle } from '@jupyterlab/translation';

import type { MuscodeClient } from '../client/client';
import type { ReviewDrive } from '../drive/review';

export async function openReview(
  options: {
    client: MuscodeClient;
    review: ReviewDrive;
    docManager: IDocumentManager;
    trans: TranslationBundle;
  },
  projectId: string,
  path?: string
): Promise<void> {
  const { client, review, docManager, trans } = options;
  if (!path) {
    const project = await client.getProject(projectId);
    path = project.files[0]?.path;
  }
  if (!path) {
    throw new Error(trans.__('This project has no files.'));
  }
  const widget = docManager.openOrReveal(review.pathOf(projectId, path));
  if (widget) {
    await widget.context.ready;
    // a student's file: reading only, and the title says whose it is
    if (widget.content instanceof FileEditor) {
      widget.content.editor.setOption('readOnly', true);
    }
    widget.addClass('muscode-mod-review');
    widget.title.caption = trans.__('%1 (read-only)', widget.title.caption || path);
  }
}
