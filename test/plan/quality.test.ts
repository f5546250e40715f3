/**
 * The plan's metric as the planner speaks it: the QoS bound resolved against the metric in use (refused, naming
 * that metric, when it cannot apply), and values, differences and chart axes in the metric's own units.
 */
import { describe, expect, it } from 'vitest';
import { formatQuality, formatQualityDelta, gain, qualityAxis, qualityConstraint, type QualityMeta } from '../../src/plan/quality.js';

const ACCURACY: QualityMeta = { metric: 'accuracy', label: 'top-1 accuracy', better: 'higher' };
const IOU: QualityMeta = { metric: 'map-iou', label: 'map IoU @0.5', better: 'higher' };
const TER: QualityMeta = { metric: 'token-error-rate', label: 'token error rate', better: 'lower' };

describe('the quality constraint against the metric in use', () => {
  it('qos.accuracy is a floor on accuracy; quality.min a floor on a higher-is-better metric, quality.max a ceiling on a lower-is-better one', () => {
    expect(qualityConstraint({ accuracy: 0.9 }, ACCURACY)).toEqual({ limit: 0.9, bound: 'min' });
    expect(qualityConstraint({ quality: { min: 0.7 } }, IOU)).toEqual({ limit: 0.7, bound: 'min' });
    expect(qualityConstraint({ quality: { max: 0.05 } }, TER)).toEqual({ limit: 0.05, bound: 'max' });
    expect(qualityConstraint({}, IOU)).toBeUndefined();
  });

  it("accuracy asked of a detector's map, or a bound the wrong way round: one line naming the metric in use", () => {
    const refused = (qos: Parameters<typeof qualityConstraint>[0], q: QualityMeta, message: RegExp, hint: RegExp) =>
      expect(() => qualityConstraint(qos, q)).toThrow(expect.objectContaining({ code: 'BAD_SCENARIO', message: expect.stringMatching(message), hint: expect.stringMatching(hint) }));
    refused({ accuracy: 0.9 }, IOU, /^qos\.accuracy: the task's metric is map IoU @0\.5 \(map-iou, higher is better\), not accuracy$/, /qos: \{quality: \{min: \.\.\.\}\}/);
    refused({ accuracy: 0.9 }, TER, /token error rate \(token-error-rate, lower is better\), not accuracy/, /quality: \{max: \.\.\.\}/);
    refused({ quality: { max: 0.05 } }, IOU, /^qos\.quality\.max: the task's metric is map IoU @0\.5 \(map-iou, higher is better\), so it takes a floor$/, /qos: \{quality: \{min: \.\.\.\}\}/);
    refused({ quality: { min: 0.9 } }, TER, /^qos\.quality\.min: .*token-error-rate, lower is better\), so it takes a ceiling$/, /\{max: \.\.\.\}/);
  });
});

describe('values in the metric’s units', () => {
  it('shares in %, decibels, plain numbers; differences in points, dB or the number', () => {
    expect([formatQuality('accuracy', 0.9312), formatQuality('snr-db', 24.349), formatQuality('rel-l2', 0.012345), formatQuality('rel-l2', 2.5e-5), formatQuality('custom:map', 0.5)]).toEqual(['93.1 %', '24.3 dB', '0.01235', '2.50e-5', '0.5']);
    expect([formatQuality('snr-db', Infinity), formatQuality('cosine', NaN)]).toEqual(['∞ dB', 'n/a']);
    expect([formatQualityDelta('map-f1', -0.0123), formatQualityDelta('psnr-db', 1.25), formatQualityDelta('rel-l2', 0.00123)]).toEqual(['-1.23 points', '+1.3 dB', '+0.00123']);
  });

  it('more is better after orientation; chart axes say the unit and the direction', () => {
    expect([gain('higher', 0.9), gain('lower', 0.05)]).toEqual([0.9, -0.05]);
    expect(qualityAxis(ACCURACY)).toEqual({ percent: true, title: 'top-1 accuracy (%)' });
    expect(qualityAxis(TER)).toEqual({ percent: true, title: 'token error rate (%, lower is better)' });
    expect(qualityAxis({ metric: 'snr-db', label: 'SNR', better: 'higher' })).toEqual({ percent: false, title: 'SNR (dB)' });
    expect(qualityAxis({ metric: 'rel-l2', label: 'relative L2 error', better: 'lower' })).toEqual({ percent: false, title: 'relative L2 error (lower is better)' });
  });
});
