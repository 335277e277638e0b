/**
 * The drive plugin: the `MUSCode:` drive of the caller's projects and the read-only
 * `MUSCodeReview:` drive of students' projects, in JupyterLab's contents manager.
 */
import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { IDocumentManager, IDocumentWidgetOpener } from '@jupyterlab/docmanager';
import { DocumentRegistry, IDocumentWidget } from '@jupyterlab/docregistry';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import { DisposableDelegate, IDisposable } from '@lumino/disposable';

import { IMuscodeDrives, IMuscodeServer } from '../tokens';
import { askConflict } from './conflict';
import { DRIVE_NAME, MuscodeDrive } from './drive';
import { ReviewDrive } from './review';

export const drivePlugin: JupyterFrontEndPlugin<IMuscodeDrives> = {
  id: 'muscode-jupyterlab:drive',
  description: 'The MUSCode contents drives: projects as folders, stale saves asked about.',
  autoStart: true,
  provides: IMuscodeDrives,
  requires: [IMuscodeServer, IDocumentManager],
  optional: [ITranslator, IDocumentWidgetOpener],
  activate: (
    app: JupyterFrontEnd,
    server: IMuscodeServer,
    docManager: IDocumentManager,
    translator: ITranslator | null,
    opener: IDocumentWidgetOpener | null
  ): IMuscodeDrives => {
    const trans = (translator ?? nullTranslator).load('muscode');
    const contents = app.serviceManager.contents;
    const drive = new MuscodeDrive({
      name: DRIVE_NAME,
      client: server.client,
      defaultLanguage: () => server.defaultLanguage,
      resolveConflict: conflict => askConflict(trans, conflict),
      reload: async localPath => {
        const widget = docManager.findWidget(`${DRIVE_NAME}:${localPath}`, null);
        const context = widget ? docManager.contextForWidget(widget) : undefined;
        if (context) {
          await context.revert();
          // The editor now shows exactly the server's version.
          context.model.dirty = false;
        }
      }
    });
    contents.addDrive(drive);
    const review = new ReviewDrive({ client: server.client });
    contents.addDrive(review);
    server.changed.connect(() => {
      drive.client = server.client;
      review.client = server.client;
    });

    // Stale saves of MUSCode files are decided by versions, and asked about by the
    // drive; JupyterLab's own check by modification time would ask a second time.
    const ownConflicts = (context: DocumentRegistry.Context) => {
      if (contents.driveName(context.path) === drive.name) {
        context.lastModifiedCheckMargin = Number.MAX_SAFE_INTEGER;
      }
    };
    const editors: DocumentRegistry.IWidgetExtension<IDocumentWidget, DocumentRegistry.IModel> = {
      createNew: (_, context): IDisposable => {
        ownConflicts(context);
        // a file moved into the drive is ours
        const moved = () => ownConflicts(context);
        context.pathChanged.connect(moved);
        return new DisposableDelegate(() => context.pathChanged.disconnect(moved));
      }
    };
    app.docRegistry.addWidgetExtension('Editor', editors);
    opener?.opened.connect((_, widget) => ownConflicts(widget.context));

    return { drive, review };
  }
};
