/**
 * Live help: one file edited together, over the server's `/collab/{file_id}` room.
 *
 * The room speaks the y-websocket protocol; its Y.Doc holds the file's text as the
 * Y.Text named `source`, which is `@jupyter/ydoc`'s `YFile` layout, so JupyterLab's own
 * CodeMirror editor binds to it as it does to any shared text. The server saves the
 * text to the file, as a new version, a moment after the edits stop.
 *
 * Each connection starts from a fresh document. The server makes a room's document
 * anew from the file when the room reopens (after everyone left, or a server restart);
 * merging an old local document into that new one would double the text. So while the
 * connection is down the editor is read-only, and a reconnection brings a new document.
 */
import { Annotation, Extension } from '@codemirror/state';
import {
  Decoration,
  DecorationSet,
  EditorView,
  ViewPlugin,
  ViewUpdate,
  WidgetType
} from '@codemirror/view';
import { YFile } from '@jupyter/ydoc';
import { TranslationBundle } from '@jupyterlab/translation';
import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';
import { WebsocketProvider } from 'y-websocket';
import * as Y from 'yjs';

import type { MuscodeClient } from './request';

/** Where a live file's connection is. */
export type LiveState = 'connecting' | 'live' | 'reconnecting' | 'refused';

/** What a participant shows the others (the awareness state's `user` field). */
export interface ILiveUser {
  name: string;
  /** A `var(--jp-collaborator-colorN)` of JupyterLab's theme. */
  color: string;
}

/** A participant's selection, as Yjs relative positions (the awareness `cursor` field). */
interface ILiveCursor {
  anchor: unknown;
  head: unknown;
}

const COLOR = /^var\(--jp-collaborator-color[1-7]\)$/;

/** A theme colour for `name`: the same on every page. */
export function colorOf(name: string): string {
  let hash = 0;
  for (let i = 0; i < name.length; i++) {
    hash = (hash * 31 + name.charCodeAt(i)) >>> 0;
  }
  return `var(--jp-collaborator-color${(hash % 7) + 1})`;
}

/** The user of an awareness state, or null when it has none (or a malformed one). */
export function userOf(state: Record<string, unknown> | undefined): ILiveUser | null {
  const user = state?.user;
  if (typeof user !== 'object' || user === null) {
    return null;
  }
  const { name, color } = user as Record<string, unknown>;
  if (typeof name !== 'string' || !name) {
    return null;
  }
  // only a theme colour reaches a style attribute
  return { name, color: typeof color === 'string' && COLOR.test(color) ? color : colorOf(name) };
}

/**
 * Why the server refused to open a room, as a sentence; null when the status does
 * not mean a refusal (400 is the answer to a request that is not an upgrade: the
 * caller may join, and the connection failed for another reason).
 */
export function refusalMessage(status: number, trans: TranslationBundle): string | null {
  switch (status) {
    case 401:
      return trans.__('The MUSCode server did not accept your sign-in: reload the page.');
    case 403:
      return trans.__('Your sign-in does not allow editing projects.');
    case 404:
      return trans.__(
        'You may not edit this file live: only the owner of the project and the TAs and instructors of its class may.'
      );
    case 422:
      return trans.__('Only text files can be edited together, and this file is not text.');
    default:
      return null;
  }
}

export interface ILiveFileOptions {
  /** The current API client (it changes with the server URL setting). */
  client: () => MuscodeClient;
  fileId: string;
  user: ILiveUser;
  trans: TranslationBundle;
  /** First delay before reconnecting, in ms (doubles up to `maxRetryDelay`). */
  retryDelay?: number;
  maxRetryDelay?: number;
}

/**
 * The connection of one page to one file's room: a fresh `YFile` for each connection,
 * reconnecting with a growing delay, and the server's refusal as a sentence.
 */
export class LiveFile implements IDisposable {
  constructor(options: ILiveFileOptions) {
    this._options = options;
    this._delay = options.retryDelay ?? 1000;
  }

  get state(): LiveState {
    return this._state;
  }

  /** Why the room is refused (state `refused`), or why the last connection failed. */
  get message(): string {
    return this._message;
  }

  /** The document of the live connection (or of the last one, while reconnecting). */
  get file(): YFile | null {
    return this._file;
  }

  /** The other participants of the room now. */
  get participants(): ILiveUser[] {
    const file = this._file;
    if (!file || this._state !== 'live') {
      return [];
    }
    const own = file.ydoc.clientID;
    const seen: ILiveUser[] = [];
    file.awareness.getStates().forEach((state, client) => {
      const user = client === own ? null : userOf(state);
      if (user) {
        seen.push(user);
      }
    });
    return seen;
  }

  get stateChanged(): ISignal<this, LiveState> {
    return this._stateChanged;
  }

  /** A new document is in sync with the room: show it. */
  get fileChanged(): ISignal<this, YFile> {
    return this._fileChanged;
  }

  /** Someone joined, left, or moved. */
  get participantsChanged(): ISignal<this, void> {
    return this._participantsChanged;
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  start(): void {
    if (!this._disposed && !this._provider) {
      this.connect();
    }
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    clearTimeout(this._retry);
    this.dropProvider();
    this._file?.dispose();
    this._file = null;
    Signal.clearData(this);
  }

  private connect(): void {
    const client = this._options.client();
    const room = client.collabRoom(this._options.fileId);
    const file = YFile.create();
    file.awareness.setLocalStateField('user', this._options.user);
    const provider = new WebsocketProvider(room.serverUrl, room.room, file.ydoc, {
      awareness: file.awareness,
      params: room.params,
      WebSocketPolyfill: client.settings.WebSocket,
      // tabs of one browser would otherwise share documents of different connections
      disableBc: true,
      // this class reconnects, with a fresh document
      shouldReconnect: () => false
    });
    this._provider = provider;
    this._pending = file;
    this.setState(this._file ? 'reconnecting' : 'connecting');
    let opened = false;
    provider.on('status', ({ status }) => {
      if (status === 'connected') {
        opened = true;
      }
    });
    provider.on('sync', synced => {
      if (!synced || this._provider !== provider || this._pending !== file) {
        return;
      }
      this._pending = null;
      const old = this._file;
      this._file = file;
      this._delay = this._options.retryDelay ?? 1000;
      this._probed = false;
      this._message = '';
      file.awareness.on('change', this._onAwareness);
      this._fileChanged.emit(file);
      this.setState('live');
      this._participantsChanged.emit();
      if (old) {
        old.awareness.off('change', this._onAwareness);
        old.dispose();
      }
    });
    provider.on('connection-close', () => {
      if (this._provider !== provider) {
        return;
      }
      // no automatic reconnection on this document: see the module's comment
      provider.shouldConnect = false;
      this.dropProvider();
      void this.lost(opened);
    });
  }

  private dropProvider(): void {
    const provider = this._provider;
    this._provider = null;
    if (provider) {
      provider.shouldConnect = false;
      // not inside the provider's own close handler
      setTimeout(() => provider.destroy(), 0);
    }
    if (this._pending) {
      const pending = this._pending;
      this._pending = null;
      setTimeout(() => pending.dispose(), 0);
    }
  }

  private async lost(opened: boolean): Promise<void> {
    if (this._disposed) {
      return;
    }
    const trans = this._options.trans;
    if (!opened && !this._probed) {
      // A websocket that fails to open says nothing of why: ask over HTTP, once.
      this._probed = true;
      const status = await this._options
        .client()
        .collabAccess(this._options.fileId)
        .catch(() => 0);
      if (this._disposed) {
        return;
      }
      const refusal = refusalMessage(status, trans);
      if (refusal) {
        this._message = refusal;
        this.setState('refused');
        return;
      }
    }
    const delay = this._delay;
    this._delay = Math.min(this._options.maxRetryDelay ?? 30_000, delay * 2);
    this._message = trans.__('Disconnected: trying again in %1 s.', Math.round(delay / 1000));
    this.setState('reconnecting');
    this._participantsChanged.emit();
    this._retry = setTimeout(() => {
      if (!this._disposed) {
        this.connect();
      }
    }, delay);
  }

  private _onAwareness = (
    { added }: { added: number[]; updated: number[]; removed: number[] },
    origin: unknown
  ): void => {
    if (origin === 'local') {
      return;
    }
    // The server passes awareness on without keeping it: tell a newcomer who is here.
    const file = this._file;
    if (added.length && file) {
      const mine = file.awareness.getLocalState();
      if (mine) {
        file.awareness.setLocalState({ ...mine });
      }
    }
    this._participantsChanged.emit();
  };

  private setState(state: LiveState): void {
    if (this._state !== state) {
      this._state = state;
      this._stateChanged.emit(state);
    } else if (state === 'reconnecting') {
      this._stateChanged.emit(state);
    }
  }

  private _options: ILiveFileOptions;
  private _state: LiveState = 'connecting';
  private _message = '';
  private _file: YFile | null = null;
  private _pending: YFile | null = null;
  private _provider: WebsocketProvider | null = null;
  private _delay: number;
  private _probed = false;
  private _retry: ReturnType<typeof setTimeout> | undefined;
  private _disposed = false;
  private _stateChanged = new Signal<this, LiveState>(this);
  private _fileChanged = new Signal<this, YFile>(this);
  private _participantsChanged = new Signal<this, void>(this);
}

// -- the others' cursors in the editor --------------------------------------------------

const remoteChange = Annotation.define<boolean>();

class CaretWidget extends WidgetType {
  constructor(
    readonly user: ILiveUser,
    readonly label: string
  ) {
    super();
  }

  eq(other: CaretWidget): boolean {
    return other.user.name === this.user.name && other.user.color === this.user.color;
  }

  toDOM(): HTMLElement {
    const caret = document.createElement('span');
    caret.className = 'muscode-RemoteCaret';
    caret.style.setProperty('--muscode-collab-color', this.user.color);
    caret.setAttribute('aria-label', this.label);
    caret.dataset.user = this.user.name;
    // the name is drawn by CSS (::after): it is no part of the text, nor of a copy
    return caret;
  }

  ignoreEvent(): boolean {
    return true;
  }
}

function indexOf(json: unknown, file: YFile): number | null {
  if (typeof json !== 'object' || json === null) {
    return null;
  }
  try {
    const rel = Y.createRelativePositionFromJSON(json);
    const abs = Y.createAbsolutePositionFromRelativePosition(rel, file.ydoc);
    return abs && abs.type === file.ysource ? abs.index : null;
  } catch {
    return null;
  }
}

/**
 * A CodeMirror extension that shows the other participants' cursors and selections
 * (from the room's awareness) and publishes this editor's own.
 */
export function remoteCursors(file: YFile, trans: TranslationBundle): Extension {
  const awareness = file.awareness;
  const build = (view: EditorView): DecorationSet => {
    const length = view.state.doc.length;
    const own = file.ydoc.clientID;
    const ranges: ReturnType<Decoration['range']>[] = [];
    awareness.getStates().forEach((state, client) => {
      const user = client === own ? null : userOf(state);
      const cursor = state.cursor as ILiveCursor | null | undefined;
      if (!user || !cursor) {
        return;
      }
      const head = indexOf(cursor.head, file);
      const anchor = indexOf(cursor.anchor, file);
      if (head === null || head > length) {
        return;
      }
      if (anchor !== null && anchor !== head && anchor <= length) {
        ranges.push(
          Decoration.mark({
            class: 'muscode-RemoteSelection',
            attributes: { style: `--muscode-collab-color: ${user.color}` }
          }).range(Math.min(anchor, head), Math.max(anchor, head))
        );
      }
      ranges.push(
        Decoration.widget({
          widget: new CaretWidget(user, trans.__('Cursor of %1', user.name)),
          side: 1
        }).range(head)
      );
    });
    return Decoration.set(ranges, true);
  };

  const plugin = ViewPlugin.fromClass(
    class {
      decorations: DecorationSet;

      constructor(readonly view: EditorView) {
        this.decorations = build(view);
        awareness.on('change', this.onChange);
      }

      update(update: ViewUpdate): void {
        if (
          update.docChanged ||
          update.selectionSet ||
          update.focusChanged ||
          update.transactions.some(t => t.annotation(remoteChange))
        ) {
          this.decorations = build(update.view);
        }
        if (update.selectionSet || update.docChanged || update.focusChanged) {
          this.publish(update.view);
        }
      }

      destroy(): void {
        awareness.off('change', this.onChange);
      }

      publish(view: EditorView): void {
        const { anchor, head } = view.state.selection.main;
        const local = awareness.getLocalState();
        if (!local) {
          return;
        }
        const cursor: ILiveCursor | null = view.hasFocus
          ? {
              anchor: Y.relativePositionToJSON(
                Y.createRelativePositionFromTypeIndex(file.ysource, anchor)
              ),
              head: Y.relativePositionToJSON(
                Y.createRelativePositionFromTypeIndex(file.ysource, head)
              )
            }
          : ((local.cursor as ILiveCursor | null | undefined) ?? null);
        awareness.setLocalStateField('cursor', cursor);
      }

      onChange = (_: unknown, origin: unknown): void => {
        if (origin === 'local') {
          return;
        }
        // not from inside an editor update: awareness messages come from the socket
        setTimeout(() => {
          if (this.view.dom.isConnected) {
            this.view.dispatch({ annotations: remoteChange.of(true) });
          }
        }, 0);
      };
    },
    { decorations: v => v.decorations }
  );
  return plugin;
}
