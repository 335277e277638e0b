/**
 * The tokens through which the MUSCode plugins find each other.
 *
 * Each is provided by one plugin of `index.ts`: the server (client plugin), the event
 * feed, the drives, and the side panel. A plugin asks for what it uses and nothing
 * else, so each can be read (and disabled) on its own.
 */
import type { FileBrowser } from '@jupyterlab/filebrowser';
import { Token } from '@lumino/coreutils';
import type { ISignal } from '@lumino/signaling';
import type { Widget } from '@lumino/widgets';

import type { ICapabilities } from './client/capabilities';
import type { MuscodeClient } from './client/client';
import type { LanguageCatalog } from './client/languages';
import type { MuscodeDrive } from './drive/drive';
import type { ReviewDrive } from './drive/review';
import type { FeedState } from './events/feed';
import type { INoticeSource } from './events/follow';
import type { Me, Project } from './types';

/** The MUSCode server this lab talks to, what it offers, and the MUSCode settings. */
export interface IMuscodeServer {
  /** The API client; a new one when the `serverUrl` setting changes. */
  readonly client: MuscodeClient;
  /** The server's languages (empty until it has been read). */
  readonly catalog: LanguageCatalog;
  /** What the server offers beyond projects and runs, from its OpenAPI document. */
  readonly capabilities: ICapabilities;
  /** Who the caller is on the server (null until read, or when it cannot be). */
  readonly me: Me | null;
  /** A sentence for the side panel: who is signed in and what runs, or what is wrong. */
  readonly status: string;
  /** Language of a project made by "New Folder" at the top of the drive (setting). */
  readonly defaultLanguage: string;
  /** Seconds one `wait=true` request waits before polling (setting). */
  readonly waitTimeout: number;
  /** Emitted after each reading of the server (languages, capabilities, caller). */
  readonly changed: ISignal<IMuscodeServer, void>;
  /** Emitted once changed settings are applied and the server was read again. */
  readonly reconfigured: ISignal<IMuscodeServer, void>;
  /** Read the server again. Never rejects: what went wrong shows in `status`. */
  refresh(): Promise<void>;
  /** The live channel of runs would not open here: run the rest with `wait=true`. */
  streamUnavailable(): void;
}

export const IMuscodeServer = new Token<IMuscodeServer>(
  'muscode-jupyterlab:IMuscodeServer',
  'The MUSCode server: its API client, languages, capabilities and settings.'
);

/** The caller's notices from `GET /events`, and whether they arrive. */
export interface IMuscodeEvents extends INoticeSource {
  /** Where the feed's websocket is (`live`: notices arrive, waiting needs no polling). */
  readonly state: FeedState;
  readonly stateChanged: ISignal<unknown, FeedState>;
}

export const IMuscodeEvents = new Token<IMuscodeEvents>(
  'muscode-jupyterlab:IMuscodeEvents',
  "The caller's MUSCode notices (grades, regrade progress, runs)."
);

/** The two contents drives of MUSCode. */
export interface IMuscodeDrives {
  /** `MUSCode:` — the caller's projects as folders, their files as files. */
  readonly drive: MuscodeDrive;
  /** `MUSCodeReview:` — a student's project by its id, read-only, for the class staff. */
  readonly review: ReviewDrive;
}

export const IMuscodeDrives = new Token<IMuscodeDrives>(
  'muscode-jupyterlab:IMuscodeDrives',
  'The MUSCode contents drives: projects, and students’ projects read-only.'
);

/** The MUSCode side panel. */
export interface IMuscodePanel {
  /** The panel's widget id, to show it with `app.shell.activateById`. */
  readonly id: string;
  /** The panel's file browser of the MUSCode drive. */
  readonly browser: FileBrowser;
  /** Show a project's files in the panel's file browser. */
  openProject(project: Project): Promise<void>;
  /** Add a section below the panel's own (projects, files). */
  addSection(widget: Widget): void;
}

export const IMuscodePanel = new Token<IMuscodePanel>(
  'muscode-jupyterlab:IMuscodePanel',
  'The MUSCode side panel and its file browser.'
);
