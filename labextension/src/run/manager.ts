/**
 * Runs documents: finds (or opens) the output panel of a document and builds the
 * run request — the project's saved files for a MUSCode drive file, the editor's
 * text as `source` for any other file.
 */
import { ILabShell, JupyterFrontEnd } from '@jupyterlab/application';
import { IDocumentManager } from '@jupyterlab/docmanager';
import { IDocumentWidget } from '@jupyterlab/docregistry';
import { TranslationBundle } from '@jupyterlab/translation';
import { ISignal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';

import type { ICapabilities } from '../client/capabilities';
import type { MuscodeClient } from '../client/client';
import type { LanguageCatalog } from '../client/languages';
import type { MuscodeDrive } from '../drive/drive';
import type { ExecutionCreate } from '../types';
import { OutputModel } from './output';
import { RunPanel } from './panel';
import { saveProjectEditors } from './save';
import { RunSession } from './session';

export interface IRunManagerOptions {
  app: JupyterFrontEnd;
  docManager: IDocumentManager;
  drive: MuscodeDrive;
  client: () => MuscodeClient;
  catalog: () => LanguageCatalog;
  capabilities: () => ICapabilities;
  serverChanged: ISignal<object, void>;
  onStreamUnavailable: () => void;
  waitTimeout: () => number;
  trans: TranslationBundle;
}

export class RunManager {
  constructor(options: IRunManagerOptions) {
    this._options = options;
  }

  /** The document widget a command acts on: the current one, if it is a document. */
  documentOf(widget: Widget | null): IDocumentWidget | null {
    if (!widget) {
      return null;
    }
    const context = this._options.docManager.contextForWidget(widget);
    return context ? (widget as IDocumentWidget) : null;
  }

  /** Whether MUSCode knows a language for this path (by its extension). */
  supports(path: string): boolean {
    return this._options.catalog().forPath(path) !== undefined;
  }

  isDrivePath(path: string): boolean {
    return this._options.docManager.services.contents.driveName(path) === this._options.drive.name;
  }

  /** The output panel of `path`, made and shown beside `ref` if there is none. */
  panelFor(path: string, ref?: Widget): RunPanel {
    let panel = this._panels.get(path);
    if (panel && !panel.isDisposed) {
      if (!panel.isAttached) {
        this.place(panel, ref);
      }
      return panel;
    }
    const o = this._options;
    const model = new OutputModel();
    const session = new RunSession({
      client: o.client,
      model,
      capabilities: o.capabilities,
      onStreamUnavailable: o.onStreamUnavailable,
      waitTimeout: o.waitTimeout()
    });
    panel = new RunPanel({
      path,
      session,
      catalog: o.catalog,
      capabilities: o.capabilities,
      serverChanged: o.serverChanged,
      buildRequest: language => this.buildRequest(panel?.path ?? path, language),
      trans: o.trans
    });
    const made = panel;
    made.disposed.connect(() => {
      if (this._panels.get(made.path) === made) {
        this._panels.delete(made.path);
      }
    });
    this._panels.set(path, made);
    this.place(made, ref);
    return made;
  }

  /** Open the output panel of a document and run it. */
  async run(widget: IDocumentWidget): Promise<void> {
    const panel = this.panelFor(widget.context.path, widget);
    this._options.app.shell.activateById(panel.id);
    // give the editor its focus back: the student keeps typing
    widget.activate();
    await panel.run();
  }

  async stop(path: string): Promise<void> {
    await this._panels.get(path)?.stop();
  }

  /** A document was renamed: its panel follows it. */
  renamed(oldPath: string, newPath: string): void {
    const panel = this._panels.get(oldPath);
    if (panel) {
      this._panels.delete(oldPath);
      panel.path = newPath;
      this._panels.set(newPath, panel);
    }
  }

  private place(panel: RunPanel, ref?: Widget): void {
    const shell = this._options.app.shell;
    if (ref && ref.isAttached) {
      (shell as ILabShell).add(panel, 'main', { ref: ref.id, mode: 'split-bottom' });
    } else {
      shell.add(panel, 'main', { mode: 'split-bottom' });
    }
  }

  /** Save every open, unsaved editor of a project; rejects saying what was not saved. */
  saveProject(projectId: string): Promise<string[]> {
    const { app, docManager, drive, trans } = this._options;
    return saveProjectEditors(
      { docManager, drive, trans, widgets: () => (app.shell as ILabShell).widgets('main') },
      projectId
    );
  }

  private async buildRequest(path: string, language: string): Promise<ExecutionCreate> {
    const { docManager, drive } = this._options;
    const widget = docManager.findWidget(path, null);
    const context = widget ? docManager.contextForWidget(widget) : undefined;
    if (this.isDrivePath(path)) {
      // Run what is saved: save the project's open editors first (this file and the
      // ones it imports), so the run and what the student sees agree.
      const local = docManager.services.contents.localPath(path);
      const { project } = await drive.locate(local);
      await this.saveProject(project.id);
      const { relPath, file } = await drive.locate(local);
      if (!file) {
        throw new Error(this._options.trans.__('Save %1 before running it', path));
      }
      return { language, project_id: project.id, main: relPath };
    }
    if (context) {
      return { language, source: context.model.toString() };
    }
    const model = await docManager.services.contents.get(path, { content: true, format: 'text' });
    const source: unknown = model.content;
    if (typeof source !== 'string') {
      throw new Error(this._options.trans.__('%1 is not a text file', path));
    }
    return { language, source };
  }

  private _options: IRunManagerOptions;
  private _panels = new Map<string, RunPanel>();
}
