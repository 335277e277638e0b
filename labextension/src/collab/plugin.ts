/**
 * The collab plugin: live help, one file of a project edited together by its owner
 * and the staff of its class, from the panel's file browser, an editor's toolbar, or
 * a student's file opened from the submissions.
 */
import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, ToolbarButton } from '@jupyterlab/apputils';
import { IEditorServices } from '@jupyterlab/codeeditor';
import { IDocumentManager } from '@jupyterlab/docmanager';
import { DocumentRegistry, IDocumentWidget } from '@jupyterlab/docregistry';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import { usersIcon } from '@jupyterlab/ui-components';
import { DisposableDelegate, IDisposable } from '@lumino/disposable';

import { splitPath } from '../drive/models';
import { describeError, MuscodeAPIError } from '../request';
import { IMuscodeDrives, IMuscodePanel, IMuscodeServer } from '../tokens';
import { showError } from '../ui/dialogs';
import { insertEditorItem } from '../ui/toolbar';
import { LiveEditor } from './editor';
import { refusalMessage } from './livefile';

namespace CommandIDs {
  export const editLive = 'muscode:edit-live';
}

export const collabPlugin: JupyterFrontEndPlugin<void> = {
  id: 'muscode-jupyterlab:collab',
  description: 'MUSCode live help: a project file edited together, with named cursors.',
  autoStart: true,
  requires: [IMuscodeServer, IMuscodeDrives, IDocumentManager],
  optional: [IEditorServices, IMuscodePanel, ITranslator, ICommandPalette],
  activate: (
    app: JupyterFrontEnd,
    server: IMuscodeServer,
    drives: IMuscodeDrives,
    docManager: IDocumentManager,
    editorServices: IEditorServices | null,
    panel: IMuscodePanel | null,
    translator: ITranslator | null,
    palette: ICommandPalette | null
  ): void => {
    const trans = (translator ?? nullTranslator).load('muscode');
    const { drive, review } = drives;

    /** A file of the MUSCode drive or of the review drive (not a folder, not a project). */
    const livePath = (path: string | undefined | null): boolean => {
      if (!path) {
        return false;
      }
      const colon = path.indexOf(':');
      const driveName = path.slice(0, colon);
      return (
        colon > 0 &&
        (driveName === drive.name || driveName === review.name) &&
        splitPath(path.slice(colon + 1))[1] !== ''
      );
    };
    const currentPath = (): string | null => {
      const widget = app.shell.currentWidget;
      return (widget && docManager.contextForWidget(widget)?.path) ?? null;
    };
    const selectedPath = (): string | null => {
      const item = panel?.browser.selectedItems().next();
      return item && !item.done && item.value.type === 'file' ? item.value.path : null;
    };
    const liveTarget = (args: { path?: unknown }): string | null => {
      if (typeof args.path === 'string') {
        return args.path;
      }
      const path = currentPath();
      if (path && livePath(path)) {
        return path;
      }
      return selectedPath();
    };

    const showLive = async (fileId: string, filePath: string, owner: string | null) => {
      if (!editorServices) {
        throw new Error(trans.__('This JupyterLab has no code editor to edit with.'));
      }
      const existing = app.shell.widgets('main');
      for (let w = existing.next(); !w.done; w = existing.next()) {
        if (w.value.id === LiveEditor.idOf(fileId)) {
          app.shell.activateById(w.value.id);
          return;
        }
      }
      // The others see this name: wait for it if the server has not said it yet.
      const me = server.me ?? (await server.client.me().catch(() => null));
      const widget = new LiveEditor({
        client: () => server.client,
        editorServices,
        trans,
        fileId,
        path: filePath,
        owner: owner && owner !== me?.name ? owner : null,
        me: me?.name ?? trans.__('someone')
      });
      app.shell.add(widget, 'main', { mode: 'split-right' });
      app.shell.activateById(widget.id);
    };
    const openLive = async (path: string): Promise<void> => {
      if (!editorServices) {
        throw new Error(trans.__('This JupyterLab has no code editor to edit with.'));
      }
      const colon = path.indexOf(':');
      const local = path.slice(colon + 1);
      if (path.slice(0, colon) === drive.name) {
        const found = await drive.locate(local);
        if (!found.file) {
          throw new Error(trans.__('Only files can be edited together.'));
        }
        await showLive(found.file.id, found.relPath, null);
        return;
      }
      const [projectId, relPath] = splitPath(local);
      const project = await server.client.getProject(projectId).catch((err: unknown) => {
        // a project the caller may not read is a file they may not edit
        const refusal = err instanceof MuscodeAPIError ? refusalMessage(err.status, trans) : null;
        throw refusal ? new Error(refusal) : err;
      });
      const file = project.files.find(f => f.path === relPath);
      if (!file) {
        throw new Error(trans.__('There is no file %1 in this project.', relPath));
      }
      await showLive(file.id, relPath, project.owner);
    };

    app.commands.addCommand(CommandIDs.editLive, {
      label: trans.__('Edit live together'),
      caption: trans.__(
        'Open this file in an editor shared live with the owner of the project and the staff of its class'
      ),
      icon: usersIcon,
      isEnabled: args =>
        editorServices !== null && (typeof args.fileId === 'string' || livePath(liveTarget(args))),
      isVisible: args => typeof args.fileId === 'string' || livePath(liveTarget(args)),
      execute: async args => {
        if (typeof args.fileId === 'string') {
          // a file known by its id (a link, another extension): the room decides
          const label = typeof args.path === 'string' ? args.path : args.fileId;
          await showLive(args.fileId, label, null);
          return;
        }
        const path = liveTarget(args);
        if (!path || !livePath(path)) {
          return;
        }
        try {
          await openLive(path);
        } catch (err) {
          await showError(trans, trans.__('Edit live together'), describeError(err));
        }
      }
    });
    app.contextMenu.addItem({
      command: CommandIDs.editLive,
      selector: '#muscode-filebrowser .jp-DirListing-item[data-isdir="false"]',
      rank: 3
    });
    palette?.addItem({ command: CommandIDs.editLive, category: trans.__('MUSCode') });

    const liveButtons: DocumentRegistry.IWidgetExtension<IDocumentWidget, DocumentRegistry.IModel> =
      {
        createNew: (widget, context): IDisposable => {
          const button = new ToolbarButton({
            icon: usersIcon,
            label: trans.__('Edit live'),
            className: 'muscode-LiveButton',
            tooltip: trans.__('Edit this file live together (owner and class staff)'),
            onClick: () => void app.commands.execute(CommandIDs.editLive, { path: context.path })
          });
          insertEditorItem(widget.toolbar, 'muscode-live', button);
          const update = () => button.setHidden(!editorServices || !livePath(context.path));
          update();
          context.pathChanged.connect(update);
          return new DisposableDelegate(() => {
            context.pathChanged.disconnect(update);
            button.dispose();
          });
        }
      };
    app.docRegistry.addWidgetExtension('Editor', liveButtons);
  }
};
