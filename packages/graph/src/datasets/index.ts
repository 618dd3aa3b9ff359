export { Planetoid, PLANETOID_URL, type PlanetoidName, type PlanetoidOptions } from './planetoid.js';
export { TUDataset, TU_URL, type TUDatasetOptions } from './tu.js';
export { KarateClub, KARATE_URLS, type KarateClubOptions } from './karate.js';
export { readPickle, PyBytes, type NdArray, type CsrArrays, type PyValue, type PyKey } from './pickle.js';
export { unzip, type ZipEntry } from './zip.js';
export type { DataSourceOptions } from './files.js';
