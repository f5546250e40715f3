/** `impera/report`: the offline HTML report of a plan and the charts as self-contained SVG. */
export { renderReport } from '../report/html.js';
export { renderSvg, curveSpec, rateAccuracySpec } from '../report/plot.js';
