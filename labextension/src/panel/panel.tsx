/**
 * The MUSCode side panel: a header with the server's status, my projects, and the
 * files of the MUSCode drive; other plugins add their sections below (the classes).
 */
import { TranslationBundle } from '@jupyterlab/translation';
import { ReactWidget, SidePanel } from '@jupyterlab/ui-components';
import { ISignal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';
import * as React from 'react';

import { muscodeIcon } from '../ui/icons';
import { useSignalCount } from '../ui/react';
import { IProjectsProps, ProjectsView } from './projects';

export interface IMuscodePanelOptions extends IProjectsProps {
  status: () => string;
  /** The file browser of the MUSCode drive. */
  browser: Widget;
}

export class MuscodePanel extends SidePanel {
  constructor(options: IMuscodePanelOptions) {
    super();
    const { trans } = options;
    this.id = 'muscode-sidepanel';
    this.addClass('muscode-SidePanel');
    this.title.icon = muscodeIcon;
    this.title.caption = trans.__('MUSCode');

    const header = ReactWidget.create(
      <Header status={options.status} serverChanged={options.serverChanged} trans={trans} />
    );
    header.addClass('muscode-Header');
    this.header.addWidget(header);

    const projects = ReactWidget.create(<ProjectsView {...options} />);
    projects.addClass('muscode-Section');
    projects.title.label = trans.__('Projects');
    this.addWidget(projects);

    options.browser.title.label = trans.__('Files');
    options.browser.addClass('muscode-Files');
    this.addWidget(options.browser);
  }
}

function Header(props: {
  status: () => string;
  serverChanged: ISignal<object, void>;
  trans: TranslationBundle;
}): JSX.Element {
  useSignalCount(props.serverChanged);
  return (
    <div>
      <h2 className="muscode-Header-title">{props.trans.__('MUSCode')}</h2>
      <p className="muscode-Header-status" role="status">
        {props.status()}
      </p>
    </div>
  );
}
