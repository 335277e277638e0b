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
import { YFile } from '@jupyter/ydoc';
import { TranslationBundle } from '@jupyterlab/translation';
import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';
import { WebsocketProvider } from 'y-websocket';

import type { MuscodeClient } from '../client/client';

/** Where a live file's connection is. */
export type LiveState = 'connecting' | 'live' | 'reconnecting' | 'refused';

/** What a participant shows the others (the awareness state's `user` field). */
export interface ILiveUser {
  name: string;
  /** A `var(--jp-collaborator-colorN)` of JupyterLab's theme. */
  color: string;
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
