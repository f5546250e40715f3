/**
 * What data decides about a model before it is analysed: the size of dynamic dims the user left open (a detector's
 * height and width, an RNN state's length) and the value of inputs the model branches on (an `If` on a sample
 * rate). The CLI and the planner both complete what the user gave with this, so a command and a scenario over the
 * same data analyse the same model.
 */
import { ImperaError } from '../errors.js';
import { controlInputs } from '../graph/specialise.js';
import { buildStructure } from '../graph/structure.js';
import type { OnnxModel } from '../onnx/io.js';
import { toNumbers } from '../onnx/tensor.js';
import { dataShapes, declaredInputs, type Dataset, type InputSpec } from './dataset.js';

export interface GivenInputs {
  inputShapes: Record<string, number[]>;
  inputValues: Record<string, readonly number[]>;
}

/** `given` completed from `data`: open dims take the first sample's size (the batch `batch`), branch inputs its value. */
export function completeFromData(model: OnnxModel, given: GivenInputs, data: Dataset, batch = 1): GivenInputs {
  const inputs = declaredInputs(model);
  const inputShapes = { ...given.inputShapes };
  const inputValues = { ...given.inputValues };
  const open = inputs.filter((i) => !inputShapes[i.name] && i.dims.some((d, k) => d < 0 && k > 0));
  if (open.length > 0) {
    const fromData = dataShapes(data, inputs);
    for (const i of open) inputShapes[i.name] = fromData[i.name]!.map((d, k) => (k === 0 && i.dims[0]! < 0 ? batch : d));
  }
  const control = controlInputs(buildStructure(model.proto)).filter((name) => !inputValues[name]);
  if (control.length > 0) Object.assign(inputValues, dataValues(data, inputs.filter((i) => control.includes(i.name))));
  return { inputShapes, inputValues };
}

/** The one value `data` gives each input (the same for every sample, checked on the first and the last). */
function dataValues(data: Dataset, inputs: readonly InputSpec[]): Record<string, number[]> {
  const first = data.feeds([0], inputs);
  const last = data.feeds([data.size - 1], inputs);
  return Object.fromEntries(
    inputs.map(({ name }) => {
      const [a, b] = [toNumbers(first[name]!.data), toNumbers(last[name]!.data)];
      if (a.join() !== b.join()) throw new ImperaError('DATASET', `input '${name}' decides the model's branches (an If), but '${data.name}' gives it different values per sample`, `give it one value for all samples, e.g. --input-value ${name}=${a.join(',')} (inputValues: in a scenario)`);
      return [name, a];
    }),
  );
}
