/**
 * The run plugin: Run and Stop, a Run button on every editor whose file has a
 * language the server knows, and the output panel under the editor.
 */
import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, ToolbarButton } from '@jupyterlab/apputils';
import { IDocumentManager } from '@jupyterlab/docmanager';
import { DocumentRegistry, IDocumentWidget } from '@jupyterlab/docregistry';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import { runIcon, stopIcon } from '@jupyterlab/ui-components';
import { DisposableDelegate, IDisposable } from '@lumino/disposable';

import { IMuscodeDrives, IMuscodeServer } from '../tokens';
import { insertEditorItem } from '../ui/toolbar';
import { RunManager } from './manager';
import { RunPanel } from './panel';

namespace CommandIDs {
  export const run = 'muscode:run';
  export const stop = 'muscode:stop';
}

export const runPlugin: JupyterFrontEndPlugin<void> = {
  id: 'muscode-jupyterlab:run',
  description: 'Run with MUSCode: the Run button, the commands and the output panel.',
  autoStart: true,
  requires: [IMuscodeServer, IMuscodeDrives, IDocumentManager],
  optional: [ITranslator, ICommandPalette],
  activate: (
    app: JupyterFrontEnd,
    server: IMuscodeServer,
    drives: IMuscodeDrives,
    docManager: IDocumentManager,
    translator: ITranslator | null,
    palette: ICommandPalette | null
  ): void => {
    const trans = (translator ?? nullTranslator).load('muscode');
    const manager = new RunManager({
      app,
      docManager,
      drive: drives.drive,
      client: () => server.client,
      catalog: () => server.catalog,
      capabilities: () => server.capabilities,
      serverChanged: server.changed,
      onStreamUnavailable: () => server.streamUnavailable(),
      waitTimeout: () => server.waitTimeout,
      trans
    });

    const currentDocument = (): IDocumentWidget | null =>
      manager.documentOf(app.shell.currentWidget);
    const currentRunPanel = (): RunPanel | null => {
      const w = app.shell.currentWidget;
      return w instanceof RunPanel ? w : null;
    };
    app.commands.addCommand(CommandIDs.run, {
      label: trans.__('Run with MUSCode'),
      caption: trans.__('Run the current file in the MUSCode sandbox'),
      icon: runIcon,
      isEnabled: () => {
        const doc = currentDocument();
        return currentRunPanel() !== null || (doc !== null && manager.supports(doc.context.path));
      },
      execute: async () => {
        const runPanel = currentRunPanel();
        if (runPanel) {
          await runPanel.run();
          return;
        }
        const doc = currentDocument();
        if (doc) {
          await manager.run(doc);
        }
      }
    });
    app.commands.addCommand(CommandIDs.stop, {
      label: trans.__('Stop the MUSCode run'),
      icon: stopIcon,
      execute: async () => {
        const runPanel = currentRunPanel();
        if (runPanel) {
          await runPanel.stop();
          return;
        }
        const doc = currentDocument();
        if (doc) {
          await manager.stop(doc.context.path);
        }
      }
    });
    if (palette) {
      const category = trans.__('MUSCode');
      for (const command of Object.values(CommandIDs)) {
        palette.addItem({ command, category });
      }
    }

    const runButtons: DocumentRegistry.IWidgetExtension<IDocumentWidget, DocumentRegistry.IModel> =
      {
        createNew: (widget, context): IDisposable => {
          const button = new ToolbarButton({
            icon: runIcon,
            label: trans.__('Run'),
            className: 'muscode-RunButton',
            tooltip: trans.__('Run this file with MUSCode (Ctrl+Shift+Enter)'),
            onClick: () => void manager.run(widget)
          });
          const update = () => button.setHidden(!manager.supports(context.path));
          let oldPath = context.path;
          const moved = (_: unknown, newPath: string) => {
            // the output panel follows the file
            manager.renamed(oldPath, newPath);
            oldPath = newPath;
            update();
          };
          insertEditorItem(widget.toolbar, 'muscode-run', button);
          update();
          server.changed.connect(update);
          context.pathChanged.connect(moved);
          return new DisposableDelegate(() => {
            server.changed.disconnect(update);
            context.pathChanged.disconnect(moved);
            button.dispose();
          });
        }
      };
    app.docRegistry.addWidgetExtension('Editor', runButtons);
  }
};
