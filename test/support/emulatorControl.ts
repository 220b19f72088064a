import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FaultInjection } from '../emulator/index.ts';

/**
 * Emulator faults for tests that run in another process (the extension host): the runner that
 * owns the emulator serves them on 127.0.0.1, behind a random token, and passes where to reach
 * them in this environment variable.
 */
export const emulatorControlVariable = 'POD_RUNNER_EMULATOR_CONTROL';

interface ControlAddress {
  url: string;
  token: string;
}

export interface EmulatorControlServer {
  /** The value of `emulatorControlVariable` for the process that drives the faults. */
  address: string;
  /** Ends an outage still in progress (the API server serves again), then stops listening. */
  close(): Promise<void>;
}

function answer(response: ServerResponse, status: number, body: object): void {
  response.writeHead(status, { 'content-type': 'application/json' });
  response.end(JSON.stringify(body));
}

function authorized(request: IncomingMessage, token: string): boolean {
  const given = Buffer.from(request.headers.authorization ?? '');
  const expected = Buffer.from(`Bearer ${token}`);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/**
 * Serves `POST /outage?seconds=N`: takes the API server down (connections refused, open ones
 * cut; the pods keep running), answers once it is down, and serves again N seconds later.
 * One outage at a time: a second request during one is refused with 409.
 */
export async function serveEmulatorControl(
  faults: Pick<FaultInjection, 'takeApiServerDown'>,
): Promise<EmulatorControlServer> {
  const token = randomBytes(24).toString('hex');
  let outage: { restore(): Promise<void>; timer: NodeJS.Timeout } | undefined;
  // A restore that failed on its timer is reported by close(), which the runner awaits.
  let restoreFailure: Error | undefined;
  const endOutage = async () => {
    const ending = outage;
    outage = undefined;
    clearTimeout(ending?.timer);
    await ending?.restore();
  };
  const server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    if (!authorized(request, token)) {
      answer(response, 401, { error: 'unauthorized' });
      return;
    }
    const seconds = Number(url.searchParams.get('seconds'));
    if (request.method !== 'POST' || url.pathname !== '/outage') {
      answer(response, 404, { error: `no such control: ${request.method} ${url.pathname}` });
    } else if (!Number.isFinite(seconds) || seconds <= 0) {
      answer(response, 400, { error: 'seconds must be a number above 0' });
    } else if (outage) {
      answer(response, 409, { error: 'the API server is already down' });
    } else {
      faults.takeApiServerDown().then(
        (down) => {
          const timer = setTimeout(
            () =>
              void endOutage().catch((error: unknown) => {
                restoreFailure ??= error instanceof Error ? error : new Error(String(error));
              }),
            seconds * 1000,
          );
          outage = { restore: () => down.restore(), timer };
          answer(response, 200, { downForSeconds: seconds });
        },
        (error: unknown) => answer(response, 500, { error: String(error) }),
      );
    }
  });
  await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
  const { port } = server.address() as AddressInfo;
  const address: ControlAddress = { url: `http://127.0.0.1:${port}`, token };
  return {
    address: JSON.stringify(address),
    async close() {
      await endOutage();
      server.closeAllConnections();
      await new Promise((closed) => server.close(closed));
      if (restoreFailure) {
        throw restoreFailure;
      }
    },
  };
}

/**
 * Takes the emulator's API server down for `seconds` through the control the runner serves (its
 * address in `emulatorControlVariable`); resolves once it is down.
 */
export async function takeApiServerDownFor(seconds: number): Promise<void> {
  const value = process.env[emulatorControlVariable];
  if (!value) {
    throw new Error(`${emulatorControlVariable} is not set: no emulator control to call`);
  }
  const { url, token } = JSON.parse(value) as ControlAddress;
  const response = await fetch(`${url}/outage?seconds=${seconds}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}` },
  });
  if (!response.ok) {
    throw new Error(`the emulator control refused the outage: ${await response.text()}`);
  }
}
