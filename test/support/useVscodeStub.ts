import Module from 'node:module';
import * as stub from './vscodeStub.ts';

/**
 * Makes `import 'vscode'` load the stub, for tests of extension modules outside VS Code. Import
 * this before any extension module.
 */
const loader = Module as unknown as {
  _load: (request: string, parent: unknown, isMain: boolean) => unknown;
};
const load = loader._load;
loader._load = (request, parent, isMain) =>
  request === 'vscode' ? stub : load(request, parent, isMain);

export { configurationDefaults, configurationValues } from './vscodeStub.ts';
