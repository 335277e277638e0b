/**
 * What the MUSCode drive and the read-only review drive have in common: the client,
 * the change signal and disposal, and downloads.
 */
import { Contents, ServerConnection } from '@jupyterlab/services';
import { ISignal, Signal } from '@lumino/signaling';

import type { MuscodeClient } from '../client/client';
import type { FileWithContent } from '../types';
import { base64ToBytes } from './models';

/** A drive over the MUSCode API: its client, its change signal and its disposal. */
export abstract class ClientDrive {
  constructor(name: string, client: MuscodeClient) {
    this.name = name;
    this.client = client;
  }

  readonly name: string;

  /** The API client; the drive plugin swaps it when the server URL setting changes. */
  client: MuscodeClient;

  get serverSettings(): ServerConnection.ISettings {
    return this.client.settings;
  }

  get fileChanged(): ISignal<this, Contents.IChangedArgs> {
    return this._fileChanged;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    Signal.clearData(this);
  }

  /** A file with its content, base64 when `options` ask for it, else as the server keeps it. */
  protected fetchFile(
    projectId: string,
    fileId: string,
    options: Contents.IFetchOptions
  ): Promise<FileWithContent> {
    return this.client.getFile(
      projectId,
      fileId,
      options.format === 'base64' ? 'base64' : undefined
    );
  }

  protected _fileChanged = new Signal<this, Contents.IChangedArgs>(this);
  private _isDisposed = false;
}

/** An object URL of a project file's bytes, for JupyterLab's "Download". */
export async function downloadUrl(
  client: MuscodeClient,
  projectId: string,
  fileId: string
): Promise<string> {
  const data = await client.getFile(projectId, fileId, 'base64');
  const bytes = base64ToBytes(data.content);
  return URL.createObjectURL(new Blob([bytes], { type: 'application/octet-stream' }));
}
