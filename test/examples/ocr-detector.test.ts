/**
 * The OCR detector example (examples/ocr-detector): its scenario is a valid plan scenario that names the installed
 * model, its data and a metric that fits a probability map, and its images are what the scenario plans for.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeImage } from '../../src/data/images.js';
import { readPlanScenario } from '../../src/plan/scenario.js';

const dir = new URL('../../examples/ocr-detector/', import.meta.url).pathname;
const images = join(dir, 'images');

describe('examples/ocr-detector', () => {
  it('ships 10 RGB pages of exactly the planned size [1, 3, 64, 64], under 1 MB in all', () => {
    const files = readdirSync(images).filter((f) => f.endsWith('.png'));
    expect(files).toHaveLength(10);
    for (const f of files) expect(decodeImage(join(images, f))).toMatchObject({ width: 64, height: 64, channels: 3 });
    const bytes = readdirSync(dir, { recursive: true, encoding: 'utf8' }).reduce((sum, f) => sum + statSync(join(dir, f)).size, 0);
    expect(bytes).toBeLessThan(1_000_000);
  });

  it('is a valid plan scenario: the installed detector, its images, map IoU at the DB threshold', () => {
    const s = readPlanScenario(join(dir, 'impera.yaml'));
    const config = s.config as unknown as { model: string; data: { source: string }; quality: { metric: string; threshold: number }; inputShape: number[] };
    expect(existsSync(join(s.baseDir, config.model))).toBe(true);
    expect(join(s.baseDir, config.data.source)).toBe(images);
    expect(config.quality).toEqual({ metric: 'map-iou', threshold: 0.3 });
    expect(config.inputShape).toEqual([1, 3, 64, 64]);
  });
});
