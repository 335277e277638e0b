/**
 * MUSCode for JupyterLab: the side panel, the MUSCode drive, and Run with live output.
 */
import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, MainAreaWidget, ToolbarButton } from '@jupyterlab/apputils';
import { IEditorServices } from '@jupyterlab/codeeditor';
import { PathExt } from '@jupyterlab/coreutils';
import { IDocumentManager, IDocumentWidgetOpener } from '@jupyterlab/docmanager';
import { DocumentRegistry, IDocumentWidget } from '@jupyterlab/docregistry';
import { IFileBrowserFactory } from '@jupyterlab/filebrowser';
import { FileEditor } from '@jupyterlab/fileeditor';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { ITranslator, nullTranslator, TranslationBundle } from '@jupyterlab/translation';
import { runIcon, stopIcon, usersIcon } from '@jupyterlab/ui-components';
import { DisposableDelegate, IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import { createView, IAssignmentContext, ViewRequest, viewId } from './assignmentviews';
import { askConflict, askText, showError } from './dialogs';
import { MuscodeDrive, splitPath } from './drive';
import { refusalMessage } from './collab';
import { EventFeed } from './events';
import { LiveEditor } from './liveeditor';
import { muscodeIcon } from './icons';
import { MuscodePanel } from './panel';
import {
  capabilitiesFrom,
  ICapabilities,
  makeSettings,
  MuscodeAPIError,
  MuscodeClient
} from './request';
import { ReviewDrive } from './review';
import { describeError, LanguageCatalog } from './runner';
import { RunManager } from './runmanager';
import { RunPanel } from './runpanel';
import type { Me, Project } from './types';

export * from './types';
export * from './request';
export { OutputModel } from './output';
export { MuscodeDrive } from './drive';
export { LanguageCatalog, RunSession } from './runner';
export { EventFeed, follow, parseNotice } from './events';
export { ReviewDrive } from './review';
export { LiveFile, refusalMessage, colorOf, userOf } from './collab';
export { LiveEditor } from './liveeditor';

const PLUGIN_ID = 'muscode-jupyterlab:plugin';

/** Name of the contents drive: its paths look like `MUSCode:project/file.py`. */
export const DRIVE_NAME = 'MUSCode';

/** Name of the read-only drive of students' projects: `MUSCodeReview:<project id>/file.py`. */
export const REVIEW_DRIVE_NAME = 'MUSCodeReview';

namespace CommandIDs {
  export const run = 'muscode:run';
  export const stop = 'muscode:stop';
  export const openPanel = 'muscode:open-panel';
  export const newProject = 'muscode:new-project';
  export const refresh = 'muscode:refresh';
  export const editLive = 'muscode:edit-live';
}

/** What the connected MUSCode server is and offers; reloaded when settings change. */
class ServerState {
  constructor(
    private trans: TranslationBundle,
    private base: () => MuscodeClient['settings']
  ) {
    this.client = new MuscodeClient(base());
  }

  client: MuscodeClient;
  catalog = new LanguageCatalog([]);
  capabilities: ICapabilities = capabilitiesFrom(new Set());
  me: Me | null = null;
  status = '';

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  configure(serverUrl: string): void {
    try {
      this.client = new MuscodeClient(makeSettings(serverUrl, this.base()));
      this._configError = null;
    } catch (err) {
      this.client = new MuscodeClient(this.base());
      this._configError = describeError(err);
    }
  }

  async refresh(): Promise<void> {
    const [languages, caps, me] = await Promise.allSettled([
      this.client.languages(),
      this.client.capabilities(),
      this.client.me()
    ]);
    if (languages.status === 'fulfilled') {
      this.catalog = new LanguageCatalog(languages.value);
    }
    this.capabilities =
      caps.status === 'fulfilled' ? caps.value : capabilitiesFrom(new Set<string>());
    this.me = me.status === 'fulfilled' ? me.value : null;
    const problem = [languages, me].find(r => r.status === 'rejected');
    if (this._configError) {
      this.status = this.trans.__('The serverUrl setting is wrong: %1', this._configError);
    } else if (problem && problem.status === 'rejected') {
      this.status = describeError(problem.reason);
    } else {
      const names = this.catalog.available.map(l => l.name).join(', ');
      this.status = this.me
        ? this.trans.__(
            'Signed in as %1. Runs %2.',
            this.me.name,
            names || this.trans.__('no language yet')
          )
        : '';
    }
    this._changed.emit();
  }

  /** The live channel failed to open: run the rest with `wait=true`. */
  streamUnavailable(): void {
    if (this.capabilities.stream) {
      this.capabilities = { ...this.capabilities, stream: false };
      this._changed.emit();
    }
  }

  private _changed = new Signal<this, void>(this);
  private _configError: string | null = null;
}

/** A file name for a new file of `language` in a project. */
function starterName(catalog: LanguageCatalog, language: string): string {
  const ext = catalog.byId(language)?.extensions[0] ?? '.txt';
  return language === 'java' ? `Main${ext}` : `main${ext}`;
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: 'MUSCode: projects drive, Run with live output, classes and assignments.',
  autoStart: true,
  requires: [IDocumentManager, IFileBrowserFactory],
  optional: [
    ISettingRegistry,
    ITranslator,
    ILayoutRestorer,
    ICommandPalette,
    IDocumentWidgetOpener,
    IRenderMimeRegistry,
    IEditorServices
  ],
  activate: async (
    app: JupyterFrontEnd,
    docManager: IDocumentManager,
    browserFactory: IFileBrowserFactory,
    settingRegistry: ISettingRegistry | null,
    translator: ITranslator | null,
    restorer: ILayoutRestorer | null,
    palette: ICommandPalette | null,
    opener: IDocumentWidgetOpener | null,
    rendermime: IRenderMimeRegistry | null,
    editorServices: IEditorServices | null
  ): Promise<void> => {
    const trans = (translator ?? nullTranslator).load('muscode');
    const contents = app.serviceManager.contents;
    const state = new ServerState(trans, () => app.serviceManager.serverSettings);
    let defaultLanguage = 'python';
    let waitTimeout = 60;

    let settings: ISettingRegistry.ISettings | null = null;
    if (settingRegistry) {
      try {
        settings = await settingRegistry.load(PLUGIN_ID);
      } catch (err) {
        console.warn('MUSCode: cannot load settings, using the defaults', err);
      }
    }
    const readSettings = () => {
      if (!settings) {
        return;
      }
      state.configure(String(settings.get('serverUrl').composite ?? ''));
      defaultLanguage = String(settings.get('defaultLanguage').composite ?? 'python');
      const timeout = Number(settings.get('waitTimeout').composite);
      waitTimeout = Number.isFinite(timeout) && timeout > 0 ? timeout : 60;
    };
    readSettings();

    const drive = new MuscodeDrive({
      name: DRIVE_NAME,
      client: state.client,
      defaultLanguage: () => defaultLanguage,
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
    const review = new ReviewDrive({ client: state.client, name: REVIEW_DRIVE_NAME });
    contents.addDrive(review);
    // Grades and regrade progress arrive as notices on GET /events.
    const feed = new EventFeed({ client: () => state.client });
    state.changed.connect(() => {
      drive.client = state.client;
      review.client = state.client;
      if (state.capabilities.events) {
        feed.start();
      } else {
        feed.stop();
      }
    });

    const manager = new RunManager({
      app,
      docManager,
      drive,
      client: () => state.client,
      catalog: () => state.catalog,
      capabilities: () => state.capabilities,
      serverChanged: state.changed,
      onStreamUnavailable: () => state.streamUnavailable(),
      waitTimeout: () => waitTimeout,
      trans
    });

    // -- the side panel with the drive's file browser ------------------------------------
    const browser = browserFactory.createFileBrowser('muscode-filebrowser', {
      driveName: DRIVE_NAME,
      refreshInterval: 15000
    });
    const openProject = async (project: Project) => {
      await browser.model.cd(`/${project.name}`);
    };
    const newFile = async (project: Project) => {
      const name = await askText(
        trans,
        trans.__('New file in %1', project.name),
        trans.__('File name (a path inside the project)'),
        starterName(state.catalog, project.language)
      );
      if (!name) {
        return;
      }
      const path = `${DRIVE_NAME}:${project.name}/${name.replace(/^\/+/, '')}`;
      await contents.save(path, { type: 'file', format: 'text', content: '' });
      await browser.model.cd(`/${PathExt.dirname(`${project.name}/${name}`)}`);
      docManager.openOrReveal(path);
    };
    // -- assignment views in the main area -----------------------------------------------
    const views = new Map<string, MainAreaWidget>();
    const openReview = async (projectId: string, path?: string) => {
      if (!path) {
        const project = await state.client.getProject(projectId);
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
    };
    const assignmentContext: IAssignmentContext = {
      client: () => state.client,
      trans,
      me: () => state.me,
      catalog: () => state.catalog,
      capabilities: () => state.capabilities,
      feed,
      rendermime,
      openProject: async project => {
        drive.addedProject(project);
        await openProject(project);
        app.shell.activateById(panel.id);
      },
      openReview,
      open: (view: ViewRequest) => {
        const id = viewId(view);
        let widget = views.get(id);
        if (!widget || widget.isDisposed) {
          widget = createView(assignmentContext, view);
          views.set(id, widget);
          widget.disposed.connect(() => views.delete(id));
          app.shell.add(widget, 'main');
        }
        app.shell.activateById(widget.id);
      },
      changed: new Signal<object, string>(state)
    };

    const panel = new MuscodePanel({
      drive,
      trans,
      catalog: () => state.catalog,
      defaultLanguage: () => defaultLanguage,
      serverChanged: state.changed,
      onOpen: openProject,
      onNewFile: newFile,
      assignments: assignmentContext,
      status: () => state.status,
      browser
    });
    app.shell.add(panel, 'left', { rank: 150 });
    // Whether grades arrive as notices or by polling (for people debugging, and tests).
    panel.node.dataset.events = feed.state;
    feed.stateChanged.connect((_, events) => {
      panel.node.dataset.events = events;
    });
    restorer?.add(panel, 'muscode-sidepanel');

    // -- commands ------------------------------------------------------------------------
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
    app.commands.addCommand(CommandIDs.openPanel, {
      label: trans.__('Show the MUSCode panel'),
      icon: muscodeIcon,
      execute: () => app.shell.activateById(panel.id)
    });
    app.commands.addCommand(CommandIDs.newProject, {
      label: trans.__('New MUSCode project…'),
      execute: () => {
        app.shell.activateById(panel.id);
        panel.node.querySelector<HTMLButtonElement>('.muscode-Projects-new')?.click();
      }
    });
    app.commands.addCommand(CommandIDs.refresh, {
      label: trans.__('Reconnect to the MUSCode server'),
      execute: async () => {
        await state.refresh();
        await browser.model.refresh();
      }
    });
    // -- live help: a file of a project edited together -----------------------------------
    /** A file of the MUSCode drive or of the review drive (not a folder, not a project). */
    const livePath = (path: string | undefined | null): boolean => {
      if (!path) {
        return false;
      }
      const colon = path.indexOf(':');
      const driveName = path.slice(0, colon);
      return (
        colon > 0 &&
        (driveName === DRIVE_NAME || driveName === REVIEW_DRIVE_NAME) &&
        splitPath(path.slice(colon + 1))[1] !== ''
      );
    };
    const selectedPath = (): string | null => {
      const item = browser.selectedItems().next();
      return !item.done && item.value.type === 'file' ? item.value.path : null;
    };
    const liveTarget = (args: { path?: unknown }): string | null => {
      if (typeof args.path === 'string') {
        return args.path;
      }
      const doc = currentDocument();
      if (doc && livePath(doc.context.path)) {
        return doc.context.path;
      }
      return selectedPath();
    };
    const openLive = async (path: string): Promise<void> => {
      if (!editorServices) {
        throw new Error(trans.__('This JupyterLab has no code editor to edit with.'));
      }
      const colon = path.indexOf(':');
      const local = path.slice(colon + 1);
      let fileId: string;
      let filePath: string;
      let owner: string | null = null;
      if (path.slice(0, colon) === DRIVE_NAME) {
        const found = await drive.locate(local);
        if (!found.file) {
          throw new Error(trans.__('Only files can be edited together.'));
        }
        fileId = found.file.id;
        filePath = found.relPath;
      } else {
        const [projectId, relPath] = splitPath(local);
        const project = await state.client.getProject(projectId).catch((err: unknown) => {
          // a project the caller may not read is a file they may not edit
          const refusal = err instanceof MuscodeAPIError ? refusalMessage(err.status, trans) : null;
          throw refusal ? new Error(refusal) : err;
        });
        const file = project.files.find(f => f.path === relPath);
        if (!file) {
          throw new Error(trans.__('There is no file %1 in this project.', relPath));
        }
        fileId = file.id;
        filePath = relPath;
        owner = project.owner;
      }
      await showLive(fileId, filePath, owner);
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
      const me = state.me ?? (await state.client.me().catch(() => null));
      const widget = new LiveEditor({
        client: () => state.client,
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

    if (palette) {
      const category = trans.__('MUSCode');
      for (const command of Object.values(CommandIDs)) {
        palette.addItem({ command, category });
      }
    }

    // -- Run button on editors; MUSCode files: conflicts are decided by versions ----------
    const ownConflicts = (context: DocumentRegistry.Context) => {
      if (manager.isDrivePath(context.path)) {
        // The drive asks about stale saves by version; JupyterLab's own check by
        // modification time would ask a second time.
        context.lastModifiedCheckMargin = Number.MAX_SAFE_INTEGER;
      }
    };
    const runButtons: DocumentRegistry.IWidgetExtension<IDocumentWidget, DocumentRegistry.IModel> =
      {
        createNew: (widget, context): IDisposable => {
          ownConflicts(context);
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
            // the output panel follows the file; a file moved into the drive is ours
            manager.renamed(oldPath, newPath);
            oldPath = newPath;
            ownConflicts(context);
            update();
          };
          widget.toolbar.insertItem(0, 'muscode-run', button);
          const liveButton = new ToolbarButton({
            icon: usersIcon,
            label: trans.__('Edit live'),
            className: 'muscode-LiveButton',
            tooltip: trans.__('Edit this file live together (owner and class staff)'),
            onClick: () => void app.commands.execute(CommandIDs.editLive, { path: context.path })
          });
          widget.toolbar.insertItem(1, 'muscode-live', liveButton);
          const updateLive = () => liveButton.setHidden(!editorServices || !livePath(context.path));
          updateLive();
          context.pathChanged.connect(updateLive);
          update();
          state.changed.connect(update);
          context.pathChanged.connect(moved);
          return new DisposableDelegate(() => {
            state.changed.disconnect(update);
            context.pathChanged.disconnect(moved);
            context.pathChanged.disconnect(updateLive);
            button.dispose();
            liveButton.dispose();
          });
        }
      };
    app.docRegistry.addWidgetExtension('Editor', runButtons);
    opener?.opened.connect((_, widget) => ownConflicts(widget.context));

    if (settings) {
      settings.changed.connect(() => {
        readSettings();
        void state.refresh().then(() => browser.model.refresh());
      });
    }

    // The panel shows what the server says; a failure is shown there, not thrown here.
    void state.refresh().catch(err => {
      void showError(trans, trans.__('MUSCode'), describeError(err));
    });
  }
};

export default plugin;
