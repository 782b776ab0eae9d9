/**
 * Reports: learning curves, confusion matrices and image grids (Vega-Lite →
 * SVG → PNG), the study's self-contained HTML report, and the try-it page.
 */
export type { HistoryLike, HistoryInput, MetricSeries, NormalizedHistory } from './history.js';
export { normalizeHistory, historyRecord, lastValue } from './history.js';
export type { Figure } from './render.js';
export { vegaLiteToSvg, svgToPng, renderFigure, svgSize, uniquifySvgIds, fontsRender, PLOT_CONFIG } from './render.js';
export type { LearningCurvesOptions, ConfusionMatrixOptions, AccuracySummaryStep } from './plots.js';
export {
  learningCurves,
  learningCurvesSpec,
  confusionMatrixChart,
  confusionMatrixSpec,
  validateConfusion,
  accuracySummaryChart,
  accuracySummarySpec,
  writeFigure,
  SERIES_COLORS,
} from './plots.js';
export { lrFinderChart, lrFinderSpec, type LrCurve } from './lr-finder-plot.js';
export type { GridTile, ImageGridOptions, ImageSource } from './grid.js';
export { imageGrid, sharpFromSource } from './grid.js';
export { confusionTablesHtml, worstRecalls, MAX_CONFUSION_CHART_CLASSES } from './confusions.js';
export type { MachineInfo } from './machine.js';
export { machineInfo } from './machine.js';
export type { StudyReport, StepReport, DatasetInfo, ReportImage, ReportTable, WriteReportOptions, WrittenReport } from './html.js';
export { writeReport, reportResults, versusBook } from './html.js';
export type { TryPageOptions, WrittenTryPage } from './try.js';
export { writeTryPage, readSavedModel, topologyInputSize, topologyOutputUnits, tfjsBundlePath } from './try.js';
export type { GradCamOptions, GradCamResult } from './grad-cam.js';
export { gradCam, lastSpatialLayer, overlayHeatmap, heatColor } from './grad-cam.js';
