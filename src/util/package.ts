/** Where impera is installed, for the built-in example and the version. */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) || JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).name !== 'impera') {
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the impera package root');
    dir = up;
  }
  return dir;
}

export const PACKAGE_ROOT = findRoot();
export const VERSION: string = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')).version;
/** The built-in example's model (a MobileNetV2 from the reference zoo; its data is EXAMPLE_DATA). */
export const EXAMPLE_MODEL = join(PACKAGE_ROOT, 'examples', 'mobilenet_v2.onnx');
/** The built-in example's labelled images (200 test images as PNG, one folder per class; the folder's name says which dataset). */
export const EXAMPLE_DATA = join(PACKAGE_ROOT, 'examples', 'fashion-mnist-sample');
/** The reference zoo (../shared/zoo beside the checkout), or `IMPERA_ZOO`: the benches' and bench-e2e's models. */
export const zooDir = (env: NodeJS.ProcessEnv = process.env): string => env.IMPERA_ZOO ?? join(PACKAGE_ROOT, '..', 'shared', 'zoo');
