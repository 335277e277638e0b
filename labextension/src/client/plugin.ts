/**
 * The client plugin: the MUSCode server this lab talks to, and the MUSCode settings.
 */
import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

import { describeError } from '../request';
import { IMuscodeServer } from '../tokens';
import { showError } from '../ui/dialogs';
import { DEFAULT_SETTINGS, IServerSettings, ServerState } from './server';

/**
 * The id the MUSCode settings (`schema/plugin.json`) are saved under: the plugin that
 * reads them keeps it, so settings saved before stay in force.
 */
export const SETTINGS_ID = 'muscode-jupyterlab:plugin';

function readSettings(settings: ISettingRegistry.ISettings): IServerSettings {
  const timeout = Number(settings.get('waitTimeout').composite);
  return {
    serverUrl: String(settings.get('serverUrl').composite ?? DEFAULT_SETTINGS.serverUrl),
    defaultLanguage: String(
      settings.get('defaultLanguage').composite ?? DEFAULT_SETTINGS.defaultLanguage
    ),
    waitTimeout: Number.isFinite(timeout) && timeout > 0 ? timeout : DEFAULT_SETTINGS.waitTimeout
  };
}

export const clientPlugin: JupyterFrontEndPlugin<IMuscodeServer> = {
  id: SETTINGS_ID,
  description: 'The MUSCode server: API client, languages, capabilities and settings.',
  autoStart: true,
  provides: IMuscodeServer,
  optional: [ISettingRegistry, ITranslator],
  activate: async (
    app: JupyterFrontEnd,
    settingRegistry: ISettingRegistry | null,
    translator: ITranslator | null
  ): Promise<IMuscodeServer> => {
    const trans = (translator ?? nullTranslator).load('muscode');
    const server = new ServerState(trans, () => app.serviceManager.serverSettings);
    let settings: ISettingRegistry.ISettings | null = null;
    if (settingRegistry) {
      try {
        settings = await settingRegistry.load(SETTINGS_ID);
      } catch (err) {
        console.warn('MUSCode: cannot load settings, using the defaults', err);
      }
    }
    if (settings) {
      const loaded = settings;
      server.configure(readSettings(loaded));
      loaded.changed.connect(() => void server.reconfigure(readSettings(loaded)));
    }
    // The panel shows what the server says; a failure is shown there, not thrown here.
    void server.refresh().catch(err => {
      void showError(trans, trans.__('MUSCode'), describeError(err));
    });
    return server;
  }
};
