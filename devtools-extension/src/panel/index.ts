/**
 * The rxmux DevTools panel, as a plain DOM module (no extension API): mount
 * it with {@link mountPanel} and any {@link PanelSource}.
 * @packageDocumentation
 */
export { mountPanel, ROW_HEIGHT, type PanelHandle, type PanelOptions } from './panel.js';
export type { CaptureState, PanelSink, PanelSource, SourceState } from './source.js';
export { CaptureModel, DEFAULT_LOG_CAPACITY, type PanelRecord } from './model.js';
export type { LogFilter } from './filter.js';
export { exportCapture, importCapture, redact, CAPTURE_FORMAT, CAPTURE_VERSION, type CaptureFile, type ImportResult } from './capture-file.js';
