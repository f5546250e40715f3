/**
 * Gradients of the zoo models against PyTorch's (../shared/zoo/*.reference.json, first 8 Fashion-MNIST test
 * images): d logit[label] / d input and the gradient norm at every ReLU/ReLU6 (GELU for ViT) activation.
 *
 * Element-wise, the input gradient of a deep ReLU/max-pool network is discontinuous in the forward numerics: where
 * two fp32 implementations resolve a near-tie of a max-pool window or a ReLU at ~0 differently, the gradient goes
 * elsewhere. PyTorch 1.13 running this same ONNX graph differs from the reference by up to 2.2e-2 (VGG16 image 0;
 * `npm run bench:gradients` prints it); impera agrees with it to ~1e-6 wherever no such decision differs. So norms
 * are held to 1e-3 everywhere, element-wise input gradients to 1e-3 for ViT (smooth) and 3e-2 for the CNNs.
 */
import { describe, expect, it } from 'vitest';
import { zooGradients } from '../../bench/zoo-reference.js';
import { ZOO } from '../helpers/models.js';

describe('gradients match PyTorch on the zoo (8 images)', () => {
  for (const name of ['vgg16', 'resnet50', 'mobilenet_v2']) {
    it(`${name}: gradient norms at the input and every activation within 1e-3`, async () => {
      const r = await zooGradients(ZOO, name);
      expect(Math.max(...r.inputNormErr)).toBeLessThan(1e-3);
      expect(r.activationNormErr.length).toBe(r.ref.activations.length * 8);
      expect(Math.max(...r.activationNormErr)).toBeLessThan(1e-3);
      expect(Math.max(...r.inputRelErr)).toBeLessThan(3e-2);
    });
  }

  it('vit_tiny: input gradient within 1e-3 element-wise, GELU gradient norms within 1e-3', async () => {
    const r = await zooGradients(ZOO, 'vit_tiny');
    expect(Math.max(...r.inputRelErr)).toBeLessThan(1e-3);
    expect(Math.max(...r.inputNormErr)).toBeLessThan(1e-3);
    expect(Math.max(...r.activationNormErr)).toBeLessThan(1e-3);
  });
});
