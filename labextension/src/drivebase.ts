/**
 * What the MUSCode drive and the read-only review drive have in common: the client,
 * the change signal and disposal, and the contents models built from project files.
 */
import { PathExt } from '@jupyterlab/coreutils';
import { Contents, ServerConnection } from '@jupyterlab/services';
import { ISignal, Signal } from '@lumino/signaling';

import { MuscodeClient } from './request';
import type { FileMeta, FileWithContent } from './types';

/** `a/b/c` → [`a`, `b/c`]; leading, trailing and doubled slashes are ignored. */
export function splitPath(localPath: string): [string, string] {
  const parts = localPath.split('/').filter(p => p.length > 0);
  return [parts[0] ?? '', parts.slice(1).join('/')];
}

const TEXT_DECODER = typeof TextDecoder !== 'undefined' ? new TextDecoder() : null;

function base64ToBytes(data: string): Uint8Array {
  const binary = atob(data);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) {
    bytes[i] = binary.charCodeAt(i);
  }
  return bytes;
}

/** Base64 of UTF-8 text → the text (the Latin-1 reading where TextDecoder is missing). */
export function base64ToText(data: string): string {
  return TEXT_DECODER ? TEXT_DECODER.decode(base64ToBytes(data)) : atob(data);
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

/** The model of a project file without its content. */
export function fileMetaModel(
  path: string,
  file: FileMeta,
  type: Contents.ContentType,
  writable: boolean
): Contents.IModel {
  return {
    name: PathExt.basename(file.path),
    path,
    type,
    writable,
    created: file.created_at,
    last_modified: file.updated_at,
    mimetype: 'text/plain',
    content: null,
    format: null,
    size: file.size
  };
}

/** The model of a folder, without its listing. */
export function folderMetaModel(
  path: string,
  modified: string,
  writable: boolean
): Contents.IModel {
  return {
    name: PathExt.basename(path),
    path,
    type: 'directory',
    writable,
    created: modified,
    last_modified: modified,
    mimetype: '',
    content: null,
    format: null
  };
}

/**
 * `meta` with the content the server sent; base64 content is decoded to text when
 * `asText` (the editor asked for text), else passed on as base64.
 */
export function withContent(
  meta: Contents.IModel,
  data: FileWithContent,
  asText: boolean
): Contents.IModel {
  if (asText && data.encoding === 'base64') {
    return { ...meta, format: 'text', mimetype: 'text/plain', content: base64ToText(data.content) };
  }
  return {
    ...meta,
    format: data.encoding === 'base64' ? 'base64' : 'text',
    mimetype: data.encoding === 'base64' ? 'application/octet-stream' : 'text/plain',
    content: data.content
  };
}

/**
 * The entries of the folder `prefix` (empty or ending in `/`) made of `files`: a file
 * directly in it, or the first file found inside each subfolder, by entry name.
 */
export function folderEntries(
  files: FileMeta[],
  prefix: string,
  fileModel: (file: FileMeta) => Contents.IModel,
  subfolderModel: (path: string, file: FileMeta) => Contents.IModel
): Map<string, Contents.IModel> {
  const children = new Map<string, Contents.IModel>();
  for (const f of files) {
    if (!f.path.startsWith(prefix)) {
      continue;
    }
    const rest = f.path.slice(prefix.length);
    const slash = rest.indexOf('/');
    if (slash < 0) {
      children.set(rest, fileModel(f));
    } else {
      const sub = rest.slice(0, slash);
      if (!children.has(sub)) {
        children.set(sub, subfolderModel(prefix + sub, f));
      }
    }
  }
  return children;
}

/** A drive over the MUSCode API: its client, its change signal and its disposal. */
export abstract class ClientDrive {
  constructor(name: string, client: MuscodeClient) {
    this.name = name;
    this.client = client;
  }

  readonly name: string;

  /** The API client; the plugin swaps it when the server URL setting changes. */
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
