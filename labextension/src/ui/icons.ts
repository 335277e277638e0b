import { LabIcon } from '@jupyterlab/ui-components';

/** The MUSCode mark: a play triangle inside code brackets. */
const LOGO_SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <path d="M7.4 5.6 1 12l6.4 6.4 1.5-1.5L4 12l4.9-4.9z"/>
    <path d="M16.6 5.6 23 12l-6.4 6.4-1.5-1.5L20 12l-4.9-4.9z"/>
    <path d="M10 8v8l6-4z"/>
  </g>
</svg>`;

export const muscodeIcon = new LabIcon({ name: 'muscode:logo', svgstr: LOGO_SVG });
