/** Image folders built in code for CLI tests. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PNG } from 'pngjs';

/** A labelled folder of `perClass` 16x16 PNGs in each of classes 0_dark and 1_light (a model of 8x8 needs resizing). */
export function labelledPngs(dir: string, perClass: number): void {
  for (const [k, cls] of ['0_dark', '1_light'].entries()) {
    mkdirSync(join(dir, cls), { recursive: true });
    for (let i = 0; i < perClass; i++) {
      const png = new PNG({ width: 16, height: 16 });
      for (let p = 0; p < 256; p++) png.data.set([40 + 160 * k + ((p * 7 + i) % 30), 60 + 120 * k, (p * 13) % 256, 255], 4 * p);
      writeFileSync(join(dir, cls, `img${i}.png`), PNG.sync.write(png));
    }
  }
}
