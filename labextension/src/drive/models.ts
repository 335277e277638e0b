/**
 * The contents models of the MUSCode drives, made from the API's projects and files,
 * and the content of a save as the API wants it.
 */
import { PathExt } from '@jupyterlab/coreutils';
import { Contents } from '@jupyterlab/services';

import type { Encoding, FileMeta, FileWithContent, Project } from '../types';

/** `a/b/c` → [`a`, `b/c`]; leading, trailing and doubled slashes are ignored. */
export function splitPath(localPath: string): [string, string] {
  const parts = localPath.split('/').filter(p => p.length > 0);
  return [parts[0] ?? '', parts.slice(1).join('/')];
}

const TEXT_DECODER = typeof TextDecoder !== 'undefined' ? new TextDecoder() : null;

export function base64ToBytes(data: string): Uint8Array {
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

/** The model of a project: a folder at the top of the MUSCode drive, without its listing. */
export function projectModel(project: Project): Contents.IModel {
  return {
    name: project.name,
    path: project.name,
    type: 'directory',
    writable: true,
    created: project.created_at,
    last_modified: project.updated_at,
    mimetype: '',
    content: null,
    format: null
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

/** Notebooks are kept as JSON text. */
export function isNotebookPath(path: string): boolean {
  return PathExt.extname(path).toLowerCase() === '.ipynb';
}

export const EMPTY_NOTEBOOK = {
  cells: [],
  metadata: {},
  nbformat: 4,
  nbformat_minor: 5
};

/**
 * The first free name: `base`, then `base1`, `base2`, … (`base 1`, … when `base`
 * has a space, as JupyterLab names "Untitled Folder 1"), each followed by `ext`.
 */
export function uniqueName(base: string, ext: string, taken: Set<string>, start = 0): string {
  const sep = /\s/.test(base) ? ' ' : '';
  for (let i = start; ; i++) {
    const candidate = i === 0 ? `${base}${ext}` : `${base}${sep}${i}${ext}`;
    if (!taken.has(candidate)) {
      return candidate;
    }
  }
}

/** The content of a save as the API wants it. */
export function encodeContent(options: Partial<Contents.IModel>): {
  content: string;
  encoding: Encoding;
} {
  const value: unknown = options.content;
  if (options.format === 'json' || (options.type === 'notebook' && typeof value !== 'string')) {
    return { content: `${JSON.stringify(value ?? EMPTY_NOTEBOOK, null, 1)}\n`, encoding: 'utf-8' };
  }
  if (options.format === 'base64') {
    return { content: typeof value === 'string' ? value : '', encoding: 'base64' };
  }
  return { content: typeof value === 'string' ? value : '', encoding: 'utf-8' };
}
