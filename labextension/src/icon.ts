import { LabIcon } from '@jupyterlab/ui-components';

/** A microphone with sound waves; `jp-icon3` follows the theme's icon colour. */
const MICROPHONE_SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <path d="M12 14a3 3 0 0 0 3-3V5a3 3 0 0 0-6 0v6a3 3 0 0 0 3 3z"/>
    <path d="M17 11a5 5 0 0 1-10 0H5a7 7 0 0 0 6 6.92V21h2v-3.08A7 7 0 0 0 19 11h-2z"/>
    <path d="M20.5 7.5h1.5v7h-1.5zM2 7.5h1.5v7H2z"/>
  </g>
</svg>`;

export const microphoneIcon = new LabIcon({
  name: 'gemini-live:microphone',
  svgstr: MICROPHONE_SVG
});
