/** `impera/sim`: simulating a deployment: scenarios, Split-Et-Impera's set-ups, and the analytic, discrete-event and ns-3 backends. */
export { loadScenario, readScenario, SETUPS, type Scenario, type ScenarioConfig, type SetupName } from '../sim/scenario.js';
export { deployment, chooseSetups, missingFor } from '../sim/setups.js';
export { simulate, type SimOptions } from '../sim/des.js';
export { analyze } from '../sim/analytic.js';
export { simulateNs3, type Ns3Options } from '../sim/ns3.js';
export type { Deployment, DeviceSpec, ServerSpec } from '../sim/deployment.js';
export type { SimResult, FrameTrace, Backend } from '../sim/result.js';
