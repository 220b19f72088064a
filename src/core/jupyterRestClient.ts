import { Backoff, type BackoffPolicy } from './backoff.ts';
import { JupyterAuthError, KernelConnectionError } from './errors.ts';
import {
  authorizationHeaders,
  jupyterApiUrl,
  type PodJupyterConnectionInfo,
} from './jupyterConnection.ts';

export interface KernelSpecs {
  default: string;
  kernelspecs: Record<string, unknown>;
}

/** While the server starts, its kernelspecs are asked for every 250 ms. */
const serverPollBackoff: BackoffPolicy = { initialDelayMs: 250, maxDelayMs: 250 };

/** REST calls of the Jupyter kernel API (Jupyter Server and the kernel gateway share them). */
export class JupyterRestClient {
  constructor(
    readonly info: PodJupyterConnectionInfo,
    private readonly fetchImpl: typeof fetch = fetch,
  ) {}

  private async request(
    method: string,
    path: string,
    body?: unknown,
    signal?: AbortSignal,
  ): Promise<unknown> {
    const url = jupyterApiUrl(this.info, path);
    let response: Response;
    try {
      response = await this.fetchImpl(url, {
        method,
        headers: {
          ...authorizationHeaders(this.info),
          ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        ...(signal ? { signal } : {}),
      });
    } catch (error) {
      if (signal?.aborted) {
        throw error;
      }
      throw new KernelConnectionError(
        `cannot reach the Jupyter server at ${jupyterApiUrl(this.info, '')}: ${describeFetchError(error)}`,
        { cause: error },
      );
    }
    const text = await response.text();
    if (response.status === 401 || response.status === 403) {
      throw new JupyterAuthError(
        `the Jupyter server refused the request ${method} ${path} (HTTP ${response.status}): check the token`,
      );
    }
    if (!response.ok) {
      throw new KernelConnectionError(
        `${method} ${path} failed with HTTP ${response.status}: ${text.slice(0, 300)}`,
      );
    }
    return text ? (JSON.parse(text) as unknown) : undefined;
  }

  async kernelSpecs(signal?: AbortSignal): Promise<KernelSpecs> {
    return (await this.request('GET', '/api/kernelspecs', undefined, signal)) as KernelSpecs;
  }

  /** Asks for the kernelspecs until the server answers (it may still be starting) or `timeoutMs` passes. */
  async waitForKernelSpecs(timeoutMs: number): Promise<KernelSpecs> {
    const deadlineAt = Date.now() + timeoutMs;
    const askAgain = new Backoff(serverPollBackoff, AbortSignal.timeout(timeoutMs));
    for (;;) {
      try {
        return await this.kernelSpecs(AbortSignal.timeout(Math.max(1000, deadlineAt - Date.now())));
      } catch (error) {
        if (error instanceof JupyterAuthError || !(await askAgain.wait())) {
          throw error;
        }
      }
    }
  }

  async startKernel(name: string): Promise<string> {
    const kernel = (await this.request('POST', '/api/kernels', { name })) as { id: string };
    return kernel.id;
  }

  async kernelAlive(id: string): Promise<boolean> {
    return (await this.kernelModel(id)) !== undefined;
  }

  /** The server's record of a kernel (its execution state as the server follows it), if it has one. */
  async kernelModel(id: string): Promise<{ execution_state?: string } | undefined> {
    try {
      const model = (await this.request('GET', `/api/kernels/${id}`)) as
        { execution_state?: string } | undefined;
      return model ?? {};
    } catch (error) {
      if (error instanceof KernelConnectionError && /HTTP 404/.test(error.message)) {
        return undefined;
      }
      throw error;
    }
  }

  async deleteKernel(id: string): Promise<void> {
    try {
      await this.request('DELETE', `/api/kernels/${id}`);
    } catch (error) {
      if (!(error instanceof KernelConnectionError && /HTTP 404/.test(error.message))) {
        throw error;
      }
    }
  }

  async interruptKernel(id: string): Promise<void> {
    await this.request('POST', `/api/kernels/${id}/interrupt`);
  }

  async restartKernel(id: string): Promise<void> {
    await this.request('POST', `/api/kernels/${id}/restart`);
  }
}

function describeFetchError(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error as Error).message;
}
