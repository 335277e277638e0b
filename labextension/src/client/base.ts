/**
 * What every part of the MUSCode client shares: its settings, and requests through
 * `requestAPI()` / `requestReply()`.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import {
  API_PATH,
  HttpMethod,
  IReply,
  IRequestOptions,
  requestAPI,
  requestReply
} from '../request';

export class ClientBase {
  constructor(readonly settings: ServerConnection.ISettings) {}

  /** `{baseUrl}api/muscode/v1`, for messages. */
  get apiUrl(): string {
    return URLExt.join(this.settings.baseUrl, API_PATH);
  }

  /** `requestAPI` with this client's settings; build `endpoint` with `fillPath`. */
  call<T>(
    method: HttpMethod,
    endpoint: string,
    options: Omit<IRequestOptions, 'method'> = {}
  ): Promise<T> {
    return requestAPI<T>(this.settings, endpoint, { ...options, method });
  }

  /** `requestReply` with this client's settings. */
  reply<T>(
    method: HttpMethod,
    endpoint: string,
    options: Omit<IRequestOptions, 'method'> = {}
  ): Promise<IReply<T>> {
    return requestReply<T>(this.settings, endpoint, { ...options, method });
  }
}
