/**
 * "Run in sandbox" for one notebook of the MUSCode drive: save the project's open
 * editors, run the saved notebook headless in the sandbox (`POST /executions` with the
 * `.ipynb` as `main`), say in the notebook's toolbar which cell runs (with Stop), and
 * show the executed copy, read-only, to the right of the student's notebook.
 */
import type { ILabShell, JupyterFrontEnd } from '@jupyterlab/application';
import type { IDocumentManager } from '@jupyterlab/docmanager';
import type { IDocumentWidget } from '@jupyterlab/docregistry';
import type { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import type { TranslationBundle } from '@jupyterlab/translation';
import { IDisposable } from '@lumino/disposable';

import type { ICapabilities } from '../client/capabilities';
import type { MuscodeClient } from '../client/client';
import type { MuscodeDrive } from '../drive/drive';
import { describeError } from '../request';
import { OutputModel } from '../run/output';
import { saveProjectEditors } from '../run/save';
import { RunSession } from '../run/session';
import type { ExecutionCreate } from '../types';
import { showError } from '../ui/dialogs';
import { notebookProgress } from './outcome';
import { ExecutedNotebook } from './view';

export interface INotebookRunnerOptions {
  app: JupyterFrontEnd;
  docManager: IDocumentManager;
  drive: MuscodeDrive;
  rendermime: IRenderMimeRegistry;
  client: () => MuscodeClient;
  capabilities: () => ICapabilities;
  onStreamUnavailable: () => void;
  waitTimeout: () => number;
  trans: TranslationBundle;
}

/** The runs of one open notebook and the executed copy they show. */
export class NotebookRunner implements IDisposable {
  constructor(widget: IDocumentWidget, options: INotebookRunnerOptions) {
    this.widget = widget;
    this._options = options;
    this.session = new RunSession({
      client: options.client,
      model: this.model,
      capabilities: options.capabilities,
      onStreamUnavailable: options.onStreamUnavailable,
      waitTimeout: options.waitTimeout()
    });
    this.model.changed.connect(this.onChanged, this);
  }

  readonly widget: IDocumentWidget;
  readonly model = new OutputModel();
  readonly session: RunSession;

  /** Emitted (with the progress sentence) whenever the run moves on. */
  onProgress: ((text: string) => void) | null = null;

  get isDisposed(): boolean {
    return this._disposed;
  }

  get view(): ExecutedNotebook | null {
    return this._view && !this._view.isDisposed ? this._view : null;
  }

  /** Whether the notebook is a file of the MUSCode drive (only those run here). */
  get onDrive(): boolean {
    const { docManager, drive } = this._options;
    return docManager.services.contents.driveName(this.widget.context.path) === drive.name;
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    this.model.changed.disconnect(this.onChanged, this);
    this.session.dispose();
  }

  /** Save, run the notebook in the sandbox and show the executed copy. Never rejects. */
  async run(): Promise<void> {
    if (this.model.running || !this.onDrive) {
      return;
    }
    this.model.start();
    let body: ExecutionCreate;
    try {
      body = await this.request();
    } catch (err) {
      // not saved, or not a project's file any more: say so where it cannot be missed
      const message = describeError(err);
      this.model.fail(message);
      void showError(this._options.trans, this._options.trans.__('Run in sandbox'), message);
      return;
    }
    await this.session.run(body, { interactive: false, stdin: '' });
  }

  async stop(): Promise<void> {
    await this.session.stop();
  }

  /** The run request: the project's saved notebook, after saving its open editors. */
  private async request(): Promise<ExecutionCreate> {
    const { app, docManager, drive, trans } = this._options;
    const local = docManager.services.contents.localPath(this.widget.context.path);
    const { project } = await drive.locate(local);
    await saveProjectEditors(
      { docManager, drive, trans, widgets: () => (app.shell as ILabShell).widgets('main') },
      project.id
    );
    const { relPath, file } = await drive.locate(local);
    if (!file) {
      throw new Error(trans.__('Save %1 before running it', local));
    }
    return { language: 'python', project_id: project.id, main: relPath };
  }

  private onChanged(): void {
    const { trans } = this._options;
    const progress = notebookProgress(trans, this.model);
    this.onProgress?.(progress);
    // the copy of the last run says that a new one is on its way
    this.view?.setStatus(this.model.running || this.model.phase === 'failed' ? progress : null);
    const result = this.model.result;
    if (this.model.phase === 'done' && result && result.id !== this._shown) {
      this._shown = result.id;
      this.showExecuted();
    }
  }

  /** Open (or refresh) the executed copy to the right of the student's notebook. */
  private showExecuted(): void {
    const result = this.model.result;
    if (!result || !result.notebook) {
      return;
    }
    const { app, rendermime, trans } = this._options;
    let view = this.view;
    if (view) {
      view.showRun(result);
    } else {
      view = new ExecutedNotebook({
        path: this.widget.context.path,
        run: result,
        rendermime,
        trans
      });
      view.id = `muscode-nbrun-${++counter}`;
      this._view = view;
    }
    if (!view.isAttached) {
      const ref = this.widget.isAttached ? this.widget.id : undefined;
      (app.shell as ILabShell).add(view, 'main', { ref, mode: 'split-right' });
    }
    app.shell.activateById(view.id);
  }

  private _options: INotebookRunnerOptions;
  private _view: ExecutedNotebook | null = null;
  private _shown: string | null = null;
  private _disposed = false;
}

let counter = 0;
