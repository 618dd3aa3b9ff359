import { tesseraVitestConfig } from '../../vitest.shared.js';

export default tesseraVitestConfig('@tessera/graph');
