import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  OptionError,
  PodJupyterServer,
  defaultJupyterCommand,
  type JsonObject,
} from '../../src/core/index.ts';
import {
  gatewaySupervisorScript,
  idleCheckSeconds,
  idleStopReason,
  idleTimeoutSeconds,
  keepAliveCommand,
} from '../../src/core/idleStop.ts';
import { gatewayLauncherScript } from '../../src/core/jupyterServerManifests.ts';

test('the idle timeout: minutes (fractions allowed) to whole seconds, 0 for never', () => {
  assert.equal(idleTimeoutSeconds(), 3600, 'default 60 minutes');
  assert.equal(idleTimeoutSeconds(0), 0);
  assert.equal(idleTimeoutSeconds(0.05), 3);
  assert.equal(idleTimeoutSeconds(0.001), 1, 'anything above 0 is at least a second');
  assert.throws(
    () => idleTimeoutSeconds(-1, 'podRunner.idleTimeoutMinutes'),
    (error: unknown) =>
      error instanceof OptionError && error.option === 'podRunner.idleTimeoutMinutes',
  );
});

test('why a pod stopped, in minutes when whole, else seconds', () => {
  assert.equal(idleStopReason(3600), 'the pod stopped after 60 idle minutes');
  assert.equal(idleStopReason(60), 'the pod stopped after 1 idle minute');
  assert.equal(idleStopReason(3), 'the pod stopped after 3 idle seconds');
});

test('the pod looks for activity every tenth of the timeout, between 1 and 30 seconds', () => {
  assert.deepEqual([3, 100, 3600].map(idleCheckSeconds), [1, 10, 30]);
  assert.deepEqual(keepAliveCommand(100).slice(3), ['pod-runner-keep-alive', '100', '10']);
});

test('the gateway pod: culling flags and the supervisor with a timeout, restartPolicy OnFailure', () => {
  const spec = (options: ConstructorParameters<typeof PodJupyterServer>[0]) =>
    new PodJupyterServer({ podName: 'g', ...options }).manifestsFor('ns').pod.spec as JsonObject;
  const command = (options: ConstructorParameters<typeof PodJupyterServer>[0]) =>
    ((spec(options).containers as JsonObject[])[0]!.command as string[]) ?? [];
  const hour = command({});
  assert.match(hour[4]!, /exec python -c "\$0" "\$1" "\$2" python -c "\$3" --JupyterApp/);
  assert.match(hour[4]!, /--MappingKernelManager\.cull_idle_timeout="\$1"/);
  assert.doesNotMatch(hour[4]!, /cull_connected|cull_busy/, 'connected and busy kernels stay');
  assert.deepEqual(hour.slice(5), [gatewaySupervisorScript, '3600', '30', gatewayLauncherScript]);
  assert.deepEqual(command({ idleTimeoutMinutes: 0 }), defaultJupyterCommand);
  assert.deepEqual(command({ command: ['serve'] }), ['serve'], "a user's command is kept as is");
  assert.equal(spec({}).restartPolicy, 'OnFailure');
  assert.equal(spec({ podSpec: { spec: { restartPolicy: 'Always' } } }).restartPolicy, 'Always');
});
