/**
 * The one way the extension talks HTTP to the MUSCode API, over JupyterLab's
 * `ServerConnection`: `requestReply()` and `requestAPI()`, the `MuscodeAPIError` every
 * failure becomes, and the connection settings of the server the `serverUrl` setting
 * names. `MuscodeClient` (`client/client.ts`) names each endpoint on top of it.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import type { ErrorBody, FieldError } from './types';

/** Where the API lives below the server's base URL. */
export const API_PATH = 'api/muscode/v1';
export type QueryValue = string | number | boolean | null | undefined;

/** A query string (with `?`) of the defined values, or ''. */
export function queryString(query?: Record<string, QueryValue>): string {
  if (!query) {
    return '';
  }
  const parts = Object.entries(query)
    .filter((entry): entry is [string, string | number | boolean] => {
      return entry[1] !== undefined && entry[1] !== null;
    })
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`);
  return parts.length ? `?${parts.join('&')}` : '';
}

/**
 * An error reply of the MUSCode API (or no reply at all: `status` 0).
 *
 * `message` is the server's sentence, fit to show to a person.
 */
export class MuscodeAPIError extends Error {
  readonly status: number;
  readonly reason: string;
  readonly errors: FieldError[];
  readonly retryAfter: number | null;
  /**
   * The HTTP response (or one made up with the same status), so that JupyterLab's own
   * code, which looks at `error.response.status`, treats a 404 from a drive as one.
   */
  readonly response: Response | null;

  constructor(
    status: number,
    message: string,
    reason: string,
    errors: FieldError[] = [],
    retryAfter: number | null = null,
    response: Response | null = null
  ) {
    super(message);
    this.name = 'MuscodeAPIError';
    this.status = status;
    this.reason = reason;
    this.errors = errors;
    this.retryAfter = retryAfter;
    this.response =
      response ??
      (status >= 200 && status <= 599 && typeof Response !== 'undefined'
        ? new Response(null, { status })
        : null);
  }

  /** A save or rename based on a version that is no longer the file's. */
  get isStaleVersion(): boolean {
    return this.status === 409 && this.reason === 'stale_version';
  }

  /** The server does not have this endpoint (an older MUSCode) or the object is gone. */
  get isNotFound(): boolean {
    return this.status === 404;
  }

  /** A sentence with the field errors, if any, for a dialog or the output panel. */
  describe(): string {
    if (!this.errors.length) {
      return this.message;
    }
    const fields = this.errors.map(e => `${e.field}: ${e.message}`).join('; ');
    return this.message.includes(fields) ? this.message : `${this.message} (${fields})`;
  }
}

function isErrorBody(value: unknown): value is ErrorBody {
  if (typeof value !== 'object' || value === null) {
    return false;
  }
  const v = value as Record<string, unknown>;
  return typeof v.message === 'string' && typeof v.reason === 'string';
}

/** Turn a non-2xx response into a `MuscodeAPIError` with the server's own sentence. */
export async function errorFromResponse(
  response: Response,
  requestUrl = ''
): Promise<MuscodeAPIError> {
  const text = await response.text().catch(() => '');
  let body: unknown = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  const retry = response.headers.get('Retry-After');
  const retryAfter = retry !== null && /^\d+$/.test(retry.trim()) ? Number(retry) : null;
  if (isErrorBody(body)) {
    const errors = Array.isArray(body.errors) ? body.errors : [];
    return new MuscodeAPIError(
      response.status,
      body.message,
      body.reason,
      errors,
      retryAfter,
      response
    );
  }
  const what = response.statusText || 'error';
  const message =
    response.status === 404
      ? `The MUSCode server has no ${endpointOf(response.url || requestUrl)} endpoint (404)`
      : `The MUSCode server answered ${response.status} ${what}`;
  return new MuscodeAPIError(
    response.status,
    message,
    `http_${response.status}`,
    [],
    retryAfter,
    response
  );
}

/** The path of a URL below the API base, for messages: `/classes`. */
function endpointOf(url: string): string {
  let path = url;
  try {
    path = new URL(url).pathname;
  } catch {
    // already a path
  }
  const at = path.indexOf(API_PATH);
  return at >= 0 ? path.slice(at + API_PATH.length) || '/' : path;
}

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface IRequestOptions {
  method?: HttpMethod;
  /** A JSON body (objects are serialised), or a string sent as is with `contentType`. */
  body?: unknown;
  contentType?: string;
  query?: Record<string, QueryValue>;
  headers?: Record<string, string>;
}

/** A parsed reply: its status, its headers and its JSON (or text) body. */
export interface IReply<T> {
  status: number;
  headers: Headers;
  body: T;
}

/**
 * Call the MUSCode API at `endpoint` (relative to `{baseUrl}api/muscode/v1/`).
 *
 * Resolves with the reply for 2xx (204 gives `undefined` as body); rejects with a
 * `MuscodeAPIError` otherwise, or with status 0 when the server cannot be reached.
 */
export async function requestReply<T>(
  settings: ServerConnection.ISettings,
  endpoint: string,
  options: IRequestOptions = {}
): Promise<IReply<T>> {
  const url =
    URLExt.join(settings.baseUrl, API_PATH, endpoint.replace(/^\/+/, '')) +
    queryString(options.query);
  const headers = new Headers(options.headers ?? {});
  const init: RequestInit = { method: options.method ?? 'GET', headers };
  if (options.body !== undefined) {
    if (typeof options.body === 'string') {
      init.body = options.body;
      headers.set('Content-Type', options.contentType ?? 'text/plain; charset=utf-8');
    } else {
      init.body = JSON.stringify(options.body);
      headers.set('Content-Type', 'application/json');
    }
  }
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (err) {
    const detail = err instanceof Error ? err.message : String(err);
    throw new MuscodeAPIError(
      0,
      `Cannot reach the MUSCode server at ${settings.baseUrl}: ${detail}`,
      'network_error'
    );
  }
  if (!response.ok) {
    throw await errorFromResponse(response, url);
  }
  const type = response.headers.get('Content-Type') ?? '';
  const text = response.status === 204 ? '' : await response.text();
  let body: unknown = undefined;
  if (text) {
    if (type.includes('json')) {
      try {
        body = JSON.parse(text);
      } catch {
        throw new MuscodeAPIError(
          response.status,
          'The MUSCode server sent a reply that is not valid JSON',
          'malformed_reply'
        );
      }
    } else {
      body = text;
    }
  }
  return { status: response.status, headers: response.headers, body: body as T };
}

/** `requestReply` for callers that need only the body. */
export async function requestAPI<T>(
  settings: ServerConnection.ISettings,
  endpoint: string,
  options: IRequestOptions = {}
): Promise<T> {
  return (await requestReply<T>(settings, endpoint, options)).body;
}

/**
 * Connection settings for the MUSCode server at `serverUrl`.
 *
 * Empty: this Jupyter server (its base URL and token); under JupyterHub too, where a
 * student's server relays the API to the `muscode` service (relay mode). Otherwise an
 * absolute URL (or a path on this origin) of a separate MUSCode server, which
 * authenticates its users itself: this server's token is not sent there.
 */
export function makeSettings(
  serverUrl: string,
  base: ServerConnection.ISettings = ServerConnection.makeSettings()
): ServerConnection.ISettings {
  const trimmed = serverUrl.trim();
  if (!trimmed) {
    return base;
  }
  const origin = typeof window !== 'undefined' ? window.location.href : base.baseUrl;
  const resolved = new URL(trimmed, origin);
  if (resolved.protocol !== 'http:' && resolved.protocol !== 'https:') {
    throw new Error(`serverUrl must be an http(s) URL or a path, not ${serverUrl}`);
  }
  const baseUrl = resolved.href.endsWith('/') ? resolved.href : `${resolved.href}/`;
  const wsUrl = baseUrl.replace(/^http/, 'ws');
  const sameOrigin = typeof window !== 'undefined' && resolved.origin === window.location.origin;
  return ServerConnection.makeSettings({
    baseUrl,
    wsUrl,
    appUrl: base.appUrl,
    token: '',
    appendToken: false,
    init: { ...base.init, credentials: sameOrigin ? 'same-origin' : 'include' },
    fetch: base.fetch,
    Headers: base.Headers,
    Request: base.Request,
    WebSocket: base.WebSocket
  });
}

/** A readable sentence for anything a request (or a run) can throw. */
export function describeError(err: unknown): string {
  if (err instanceof MuscodeAPIError) {
    return err.describe();
  }
  if (err instanceof Error) {
    return err.message;
  }
  return String(err);
}
