/**
 * The executed copy of a notebook, read-only: the cells as the sandbox ran them, with
 * their outputs rendered by JupyterLab's own renderers (untrusted: HTML sanitized, no
 * scripts), under a line naming the verdict and the failing cell.
 *
 * It is a plain widget on the run's result, not a document: nothing here can be saved,
 * so the executed copy never overwrites the student's notebook.
 */
import type { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { MimeModel } from '@jupyterlab/rendermime';
import type { TranslationBundle } from '@jupyterlab/translation';
import type { ReadonlyPartialJSONObject } from '@lumino/coreutils';
import { Widget } from '@lumino/widgets';

import type { CellResult, Execution } from '../types';
import { bundleOf, cellsOf, type ICellLike } from './cells';
import { executedTitle, failedCell, notebookOutcome } from './outcome';

export interface IExecutedNotebookOptions {
  /** The student's notebook (its drive path): names the copy. */
  path: string;
  run: Execution;
  rendermime: IRenderMimeRegistry;
  trans: TranslationBundle;
}

export class ExecutedNotebook extends Widget {
  constructor(options: IExecutedNotebookOptions) {
    super();
    this._options = options;
    this.addClass('muscode-NbRun');
    this.title.label = executedTitle(options.trans, options.path);
    this.title.caption = options.trans.__(
      'The executed copy of %1 (read-only; your notebook is unchanged)',
      options.path
    );
    this.title.closable = true;
    this.node.tabIndex = -1;
    this.showRun(options.run);
  }

  /** The run this widget shows. */
  get run(): Execution {
    return this._run as Execution;
  }

  /** Show another (newer) run of the same notebook. */
  showRun(run: Execution): void {
    this._run = run;
    const { trans } = this._options;
    this._renderers.forEach(r => r.dispose());
    this._renderers = [];
    this.node.replaceChildren();
    this.node.dataset.executionId = run.id;
    this.node.dataset.verdict = run.verdict ?? '';
    const header = document.createElement('div');
    header.className = 'muscode-NbRun-header';
    const verdict = document.createElement('span');
    verdict.className = `muscode-verdict muscode-verdict-${run.verdict ?? 'none'}`;
    verdict.textContent = notebookOutcome(trans, run);
    const note = document.createElement('span');
    note.className = 'muscode-NbRun-note';
    note.textContent = trans.__('Read-only copy of the run; your notebook is unchanged.');
    this._status.className = 'muscode-NbRun-status';
    this._status.setAttribute('role', 'status');
    header.append(verdict, note, this._status);
    const body = document.createElement('div');
    body.className = 'muscode-NbRun-cells';
    this.node.append(header, body);
    const results = new Map<number, CellResult>((run.cells ?? []).map(c => [c.index, c]));
    const failed = failedCell(run.cells);
    cellsOf(run.notebook).forEach((cell, index) =>
      body.append(this.cellNode(cell, index, results.get(index), failed?.index === index))
    );
  }

  private cellNode(
    cell: ICellLike,
    index: number,
    result: CellResult | undefined,
    failed: boolean
  ): HTMLElement {
    const { trans } = this._options;
    const node = document.createElement('div');
    node.className = 'muscode-NbRun-cell';
    node.dataset.index = String(index);
    node.dataset.kind = cell.cell_type;
    if (result) {
      node.dataset.status = result.status;
    }
    if (failed) {
      node.classList.add('muscode-mod-failed');
    }
    const prompt = document.createElement('div');
    prompt.className = 'muscode-NbRun-prompt';
    const count = cell.execution_count === null ? ' ' : String(cell.execution_count);
    prompt.textContent =
      cell.cell_type === 'code'
        ? trans.__('Cell %1 [%2]', String(index + 1), count)
        : trans.__('Cell %1', String(index + 1));
    node.append(prompt);
    if (cell.cell_type === 'markdown') {
      this.render(node, { 'text/markdown': cell.source });
      return node;
    }
    const source = document.createElement('pre');
    source.className = 'muscode-NbRun-source';
    source.textContent = cell.source;
    node.append(source);
    if (result?.status === 'not_run') {
      const skipped = document.createElement('div');
      skipped.className = 'muscode-NbRun-notRun';
      skipped.textContent = trans.__('Not run');
      node.append(skipped);
    }
    for (const output of cell.outputs) {
      const bundle = bundleOf(output);
      if (bundle) {
        this.render(node, bundle);
      }
    }
    return node;
  }

  /** Say what a new run of the notebook is doing (null: none runs). */
  setStatus(text: string | null): void {
    this._status.textContent = text ?? '';
    this._status.hidden = !text;
  }

  /** Append the rendering of one mime bundle (untrusted) to `parent`. */
  private render(parent: HTMLElement, data: ReadonlyPartialJSONObject): void {
    const { rendermime } = this._options;
    const mimeType = rendermime.preferredMimeType(data, 'any');
    if (!mimeType) {
      return;
    }
    const renderer = rendermime.createRenderer(mimeType);
    renderer.addClass('muscode-NbRun-output');
    parent.append(renderer.node);
    this._renderers.push(renderer);
    void renderer.renderModel(new MimeModel({ data, trusted: false })).catch(() => {
      renderer.node.textContent = this._options.trans.__('(this output could not be shown)');
    });
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._renderers.forEach(r => r.dispose());
    this._renderers = [];
    super.dispose();
  }

  private _options: IExecutedNotebookOptions;
  private _run: Execution | null = null;
  private _renderers: Widget[] = [];
  private _status = document.createElement('span');
}
