/** The extension's id (publisher.name): VS Code names its notebook controllers after it. */
export const extensionId = 'pod-runner.pod-runner';

/** The gateway kernel's controller id; a profile's and the Interactive Window's add to it. */
export const kernelControllerId = 'pod-runner-kernel';
export const interactiveSuffix = '-interactive';
