/** Types of report-screenshot.mjs (plain JavaScript: a dev-time tool, outside the compiled package). */
import type { Browser } from 'puppeteer-core';

export const CHROMIUM_PATH: string;
export function launchChromium(extraArgs?: readonly string[]): Promise<Browser>;
export function screenshotReport(htmlPath: string, pngPath: string, options?: { width?: number; height?: number }): Promise<void>;
