/**
 * What the connected MUSCode server is and offers, and the MUSCode settings: the
 * `IMuscodeServer` of the client plugin.
 */
import { ServerConnection } from '@jupyterlab/services';
import { TranslationBundle } from '@jupyterlab/translation';
import { ISignal, Signal } from '@lumino/signaling';

import { describeError, makeSettings } from '../request';
import type { IMuscodeServer } from '../tokens';
import type { Me } from '../types';
import { capabilitiesFrom, ICapabilities } from './capabilities';
import { MuscodeClient } from './client';
import { LanguageCatalog } from './languages';

/** The settings of `schema/plugin.json`, as read. */
export interface IServerSettings {
  /** Where the MUSCode API is ('' for this Jupyter server). */
  serverUrl: string;
  defaultLanguage: string;
  waitTimeout: number;
}

export const DEFAULT_SETTINGS: IServerSettings = {
  serverUrl: '',
  defaultLanguage: 'python',
  waitTimeout: 60
};

export class ServerState implements IMuscodeServer {
  /**
   * @param base the connection settings of this Jupyter server (read anew each time:
   * JupyterLab may renew its token).
   */
  constructor(
    private trans: TranslationBundle,
    private base: () => ServerConnection.ISettings
  ) {
    this._client = new MuscodeClient(base());
  }

  get client(): MuscodeClient {
    return this._client;
  }

  get catalog(): LanguageCatalog {
    return this._catalog;
  }

  get capabilities(): ICapabilities {
    return this._capabilities;
  }

  get me(): Me | null {
    return this._me;
  }

  get status(): string {
    return this._status;
  }

  get defaultLanguage(): string {
    return this._settings.defaultLanguage;
  }

  get waitTimeout(): number {
    return this._settings.waitTimeout;
  }

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get reconfigured(): ISignal<this, void> {
    return this._reconfigured;
  }

  /** Take new settings: a new client for another `serverUrl`. */
  configure(settings: IServerSettings): void {
    this._settings = settings;
    try {
      this._client = new MuscodeClient(makeSettings(settings.serverUrl, this.base()));
      this._configError = null;
    } catch (err) {
      this._client = new MuscodeClient(this.base());
      this._configError = describeError(err);
    }
  }

  /** `configure()`, then read the server again. */
  async reconfigure(settings: IServerSettings): Promise<void> {
    this.configure(settings);
    await this.refresh();
    this._reconfigured.emit();
  }

  async refresh(): Promise<void> {
    const [languages, caps, me] = await Promise.allSettled([
      this._client.languages(),
      this._client.capabilities(),
      this._client.me()
    ]);
    if (languages.status === 'fulfilled') {
      this._catalog = new LanguageCatalog(languages.value);
    }
    this._capabilities =
      caps.status === 'fulfilled' ? caps.value : capabilitiesFrom(new Set<string>());
    this._me = me.status === 'fulfilled' ? me.value : null;
    const problem = [languages, me].find(r => r.status === 'rejected');
    if (this._configError) {
      this._status = this.trans.__('The serverUrl setting is wrong: %1', this._configError);
    } else if (problem && problem.status === 'rejected') {
      this._status = describeError(problem.reason);
    } else {
      const names = this._catalog.available.map(l => l.name).join(', ');
      this._status = this._me
        ? this.trans.__(
            'Signed in as %1. Runs %2.',
            this._me.name,
            names || this.trans.__('no language yet')
          )
        : '';
    }
    this._changed.emit();
  }

  streamUnavailable(): void {
    if (this._capabilities.stream) {
      this._capabilities = { ...this._capabilities, stream: false };
      this._changed.emit();
    }
  }

  private _client: MuscodeClient;
  private _catalog = new LanguageCatalog([]);
  private _capabilities: ICapabilities = capabilitiesFrom(new Set());
  private _me: Me | null = null;
  private _status = '';
  private _settings: IServerSettings = DEFAULT_SETTINGS;
  private _configError: string | null = null;
  private _changed = new Signal<this, void>(this);
  private _reconfigured = new Signal<this, void>(this);
}
