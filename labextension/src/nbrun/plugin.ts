/**
 * The notebook-run plugin: "Run in sandbox" on notebooks of the MUSCode drive (a
 * toolbar button, a command, the palette), the running cell and Stop in a strip
 * above the notebook, and the executed copy beside the notebook.
 */
import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, MainAreaWidget, ToolbarButton } from '@jupyterlab/apputils';
import { IDocumentManager } from '@jupyterlab/docmanager';
import { DocumentRegistry, IDocumentWidget } from '@jupyterlab/docregistry';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import { runIcon, stopIcon, Toolbar } from '@jupyterlab/ui-components';
import { DisposableDelegate, IDisposable } from '@lumino/disposable';
import { Widget } from '@lumino/widgets';

import { IMuscodeDrives, IMuscodeServer } from '../tokens';
import { NotebookRunner } from './runner';

namespace CommandIDs {
  export const run = 'muscode:run-notebook';
  export const stop = 'muscode:stop-notebook';
}

export const notebookRunPlugin: JupyterFrontEndPlugin<void> = {
  id: 'muscode-jupyterlab:notebook-run',
  description: 'Run in sandbox: a MUSCode notebook run headless, its executed copy beside.',
  autoStart: true,
  requires: [IMuscodeServer, IMuscodeDrives, IDocumentManager, IRenderMimeRegistry],
  optional: [ITranslator, ICommandPalette],
  activate: (
    app: JupyterFrontEnd,
    server: IMuscodeServer,
    drives: IMuscodeDrives,
    docManager: IDocumentManager,
    rendermime: IRenderMimeRegistry,
    translator: ITranslator | null,
    palette: ICommandPalette | null
  ): void => {
    const trans = (translator ?? nullTranslator).load('muscode');
    const runners = new Map<IDocumentWidget, NotebookRunner>();
    const options = {
      app,
      docManager,
      drive: drives.drive,
      rendermime,
      client: () => server.client,
      capabilities: () => server.capabilities,
      onStreamUnavailable: () => server.streamUnavailable(),
      waitTimeout: () => server.waitTimeout,
      trans
    };
    const current = (): NotebookRunner | null => {
      const widget = app.shell.currentWidget;
      const runner = widget ? runners.get(widget as IDocumentWidget) : undefined;
      return runner && runner.onDrive ? runner : null;
    };

    app.commands.addCommand(CommandIDs.run, {
      label: trans.__('Run in sandbox'),
      caption: trans.__('Run this notebook of a MUSCode project in the sandbox'),
      icon: runIcon,
      isEnabled: () => current() !== null,
      execute: () => current()?.run()
    });
    app.commands.addCommand(CommandIDs.stop, {
      label: trans.__('Stop the notebook run in the sandbox'),
      icon: stopIcon,
      isEnabled: () => current()?.session.canStop ?? false,
      execute: () => current()?.stop()
    });
    if (palette) {
      const category = trans.__('MUSCode');
      for (const command of Object.values(CommandIDs)) {
        palette.addItem({ command, category });
      }
    }

    const buttons: DocumentRegistry.IWidgetExtension<IDocumentWidget, DocumentRegistry.IModel> = {
      createNew: (widget): IDisposable => {
        const runner = new NotebookRunner(widget, options);
        runners.set(widget, runner);
        const button = new ToolbarButton({
          icon: runIcon,
          label: trans.__('Run in sandbox'),
          className: 'muscode-NbRunButton',
          tooltip: trans.__('Save, then run this notebook in the MUSCode sandbox'),
          onClick: () => void runner.run()
        });
        const stop = new ToolbarButton({
          icon: stopIcon,
          label: trans.__('Stop'),
          className: 'muscode-NbRunStop',
          tooltip: trans.__('Stop the run in the sandbox'),
          onClick: () => void runner.stop()
        });
        const progress = new Widget();
        progress.addClass('muscode-NbRunProgress');
        progress.node.setAttribute('role', 'status');
        // The notebook's toolbar moves the items that do not fit into its "more" menu,
        // as it does when the executed copy opens beside the notebook: the progress
        // and Stop live in a toolbar of their own above the notebook, which does not.
        const strip = new Toolbar();
        strip.addClass('muscode-NbRunStrip');
        strip.node.setAttribute('aria-label', trans.__('Run in sandbox'));
        strip.addItem('muscode-nbrun-progress', progress);
        strip.addItem('muscode-nbrun-stop', stop);
        const update = () => {
          const here = runner.onDrive;
          button.setHidden(!here);
          button.enabled = !runner.model.running;
          stop.setHidden(!here || !runner.session.canStop);
          progress.setHidden(!here || runner.model.phase === 'idle');
          strip.setHidden(progress.isHidden && stop.isHidden);
          progress.node.dataset.phase = runner.model.phase;
          const verdict = runner.model.result?.verdict;
          progress.node.dataset.verdict = verdict ?? '';
        };
        runner.onProgress = text => {
          progress.node.textContent = text;
          update();
        };
        runner.session.stateChanged.connect(update);
        widget.context.pathChanged.connect(update);
        widget.toolbar.insertItem(0, 'muscode-nbrun', button);
        if (widget instanceof MainAreaWidget) {
          widget.contentHeader.addWidget(strip);
        } else {
          widget.toolbar.insertItem(1, 'muscode-nbrun-strip', strip);
        }
        update();
        widget.disposed.connect(() => runners.delete(widget));
        return new DisposableDelegate(() => {
          runners.delete(widget);
          runner.onProgress = null;
          runner.session.stateChanged.disconnect(update);
          widget.context.pathChanged.disconnect(update);
          runner.dispose();
          button.dispose();
          stop.dispose();
          progress.dispose();
          strip.dispose();
        });
      }
    };
    app.docRegistry.addWidgetExtension('Notebook', buttons);
  }
};
