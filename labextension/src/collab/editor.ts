/**
 * The "Edit live together" tab: JupyterLab's code editor on a file's live room, with
 * a connected/disconnected indicator and who else is there.
 */
import { MainAreaWidget } from '@jupyterlab/apputils';
import { PathExt } from '@jupyterlab/coreutils';
import { CodeEditor, CodeEditorWrapper, IEditorServices } from '@jupyterlab/codeeditor';
import { TranslationBundle } from '@jupyterlab/translation';
import { Panel, Widget } from '@lumino/widgets';
import type { YFile } from '@jupyter/ydoc';

import type { MuscodeClient } from '../client/client';
import { muscodeIcon } from '../ui/icons';
import { remoteCursors } from './cursors';
import { colorOf, LiveFile, LiveState } from './livefile';

export interface ILiveEditorOptions {
  client: () => MuscodeClient;
  editorServices: IEditorServices;
  trans: TranslationBundle;
  fileId: string;
  /** The file's path in its project, for the title and the syntax highlighting. */
  path: string;
  /** Whose project it is, for the title (null: the caller's own). */
  owner: string | null;
  /** The caller's name, shown to the others. */
  me: string;
}

/** A small toolbar item: a text that screen readers hear when it changes. */
class StatusItem extends Widget {
  constructor(className: string, live: boolean) {
    super({ node: document.createElement('span') });
    this.addClass(className);
    if (live) {
      this.node.setAttribute('role', 'status');
      this.node.setAttribute('aria-live', 'polite');
    }
  }
}

export class LiveEditor extends MainAreaWidget<Panel> {
  constructor(options: ILiveEditorOptions) {
    const content = new Panel();
    content.addClass('muscode-Live-body');
    super({ content });
    const { trans } = options;
    this._options = options;
    this.id = LiveEditor.idOf(options.fileId);
    this.addClass('muscode-Live');
    this.node.dataset.fileId = options.fileId;
    const name = PathExt.basename(options.path);
    this.title.label = trans.__('%1 (live)', name);
    this.title.caption = options.owner
      ? trans.__('%1 of %2, edited live together', options.path, options.owner)
      : trans.__('%1, edited live together', options.path);
    this.title.icon = muscodeIcon;
    this.title.closable = true;

    this._status = new StatusItem('muscode-Live-status', true);
    this._people = new StatusItem('muscode-Live-people', false);
    this.toolbar.addItem('muscode-live-status', this._status);
    this.toolbar.addItem('muscode-live-people', this._people);
    this.toolbar.node.setAttribute('aria-label', trans.__('Live editing of %1', name));

    this._error = new Widget({ node: document.createElement('div') });
    this._error.addClass('muscode-Live-error');
    this._error.node.setAttribute('role', 'alert');
    this._error.hide();
    content.addWidget(this._error);

    this._live = new LiveFile({
      client: options.client,
      fileId: options.fileId,
      user: { name: options.me, color: colorOf(options.me) },
      trans
    });
    this._live.stateChanged.connect(this.onState, this);
    this._live.fileChanged.connect(this.onFile, this);
    this._live.participantsChanged.connect(this.onPeople, this);
    this.onState(this._live, this._live.state);
    this.onPeople();
    this._live.start();
  }

  static idOf(fileId: string): string {
    return `muscode-live-${fileId}`;
  }

  get live(): LiveFile {
    return this._live;
  }

  /** The editor of the live document (null until the first connection is in sync). */
  get editor(): CodeEditor.IEditor | null {
    return this._wrapper?.editor ?? null;
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._wrapper?.model.dispose();
    this._wrapper?.dispose();
    this._wrapper = null;
    this._live.dispose();
    super.dispose();
  }

  private onFile(_: LiveFile, file: YFile): void {
    const { editorServices, path, trans } = this._options;
    const old = this._wrapper;
    const selection = old?.editor.getSelection();
    const focused = old?.editor.hasFocus() ?? false;
    const model = new CodeEditor.Model({
      sharedModel: file,
      mimeType: editorServices.mimeTypeService.getMimeTypeByFilePath(path)
    });
    const wrapper = new CodeEditorWrapper({
      factory: editorServices.factoryService.newDocumentEditor,
      model,
      editorOptions: {
        extensions: [remoteCursors(file, trans)],
        config: { lineNumbers: true }
      }
    });
    wrapper.addClass('muscode-Live-editor');
    (this.content as Panel).addWidget(wrapper);
    this._wrapper = wrapper;
    if (old) {
      old.model.dispose();
      old.dispose();
    }
    if (selection) {
      try {
        wrapper.editor.setSelection(selection);
      } catch {
        // the text changed meanwhile: the cursor starts at the top
      }
    }
    if (focused || !old) {
      wrapper.editor.focus();
    }
    this.onState(this._live, this._live.state);
  }

  private onState(live: LiveFile, state: LiveState): void {
    const { trans } = this._options;
    const texts: Record<LiveState, string> = {
      connecting: trans.__('Connecting…'),
      live: trans.__('Connected: edits are shared and saved'),
      reconnecting: trans.__('Disconnected: read-only until the connection is back'),
      refused: trans.__('Not connected')
    };
    this._status.node.textContent = `● ${texts[state]}`;
    this._status.node.dataset.state = state;
    this._status.node.title = live.message || texts[state];
    this.node.dataset.state = state;
    this._wrapper?.editor.setOption('readOnly', state !== 'live');
    if (state === 'refused') {
      this._error.node.textContent = live.message;
      this._error.show();
      this._wrapper?.hide();
    } else if (state === 'reconnecting' && live.message) {
      this._error.node.textContent = live.message;
      this._error.show();
    } else {
      this._error.hide();
      this._wrapper?.show();
    }
  }

  private onPeople(): void {
    const { trans } = this._options;
    const people = this._live.participants;
    const names = Array.from(new Set(people.map(p => p.name))).sort();
    this._people.node.textContent = names.length
      ? trans.__('Also here: %1', names.join(', '))
      : this._live.state === 'live'
        ? trans.__('Nobody else is here yet')
        : '';
    this._people.node.dataset.people = names.join(',');
  }

  private _options: ILiveEditorOptions;
  private _live: LiveFile;
  private _wrapper: CodeEditorWrapper | null = null;
  private _status: StatusItem;
  private _people: StatusItem;
  private _error: Widget;
}
