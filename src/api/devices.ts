/** `impera/devices`: devices impera cannot run on: the catalog, the roofline model fitted to a measured profile, predicted profiles, edge energy, and device resolution for the planner. */
export { loadCatalog, readCatalogFile, findDevice, findRadio, peakGflops, BUILTIN_CATALOG, DTYPES, type Catalog, type Device, type Radio, type ComputeDtype } from '../devices/catalog.js';
export { calibrate, predictNodes, rooflineMs, OP_CLASSES, type DeviceModel, type OpClass, type Efficiency } from '../devices/roofline.js';
export { predictedProfile, type PredictedProfileOptions } from '../devices/predicted.js';
export { edgeEnergy, type EdgeEnergy } from '../devices/energy.js';
