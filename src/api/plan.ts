/** `impera/plan`: the recommendation: scenario files (impera.yaml), the planner, the QoS check and the decision, and the deployment export. */
export { readPlanScenario, planScenarioSchema, type PlanScenario, type PlanScenarioConfig } from '../plan/scenario.js';
export { plan, type PlanOptions, type PlanContext } from '../plan/planner.js';
export { checkConfiguration, decide, chosen, type Decision } from '../plan/recommend.js';
export type * from '../plan/types.js';
export { exportPlan } from '../runtime/deploy.js';
