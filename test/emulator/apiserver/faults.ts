import { ApiError } from '../apiErrors.ts';

export interface FailureRule {
  /** Request verb (get, list, watch, create, update, patch, delete); any when omitted. */
  verb?: string;
  /** Resource, optionally with subresource (`pods`, `pods/exec`); any when omitted. */
  resource?: string;
  /** How many matching requests fail. Default 1. */
  count?: number;
  /** HTTP status: 500, 429, 403, 503... */
  status: number;
  /** For 429/503: the Retry-After header and `details.retryAfterSeconds`. */
  retryAfterSeconds?: number;
  message?: string;
}

const reasons: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  409: 'Conflict',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

/** Request failures queued by tests, consumed in order by matching requests. */
export class RequestFailures {
  private rules: (FailureRule & { remaining: number })[] = [];

  add(rule: FailureRule): void {
    this.rules.push({ ...rule, remaining: rule.count ?? 1 });
  }

  clear(): void {
    this.rules = [];
  }

  /** The error the next request of this verb and resource must fail with, if any. */
  take(verb: string, resource: string): ApiError | undefined {
    const rule = this.rules.find(
      (r) =>
        r.remaining > 0 &&
        (r.verb === undefined || r.verb === verb) &&
        (r.resource === undefined || r.resource === resource),
    );
    if (!rule) {
      return undefined;
    }
    rule.remaining--;
    this.rules = this.rules.filter((r) => r.remaining > 0);
    const reason = reasons[rule.status] ?? 'Unknown';
    const retry = rule.retryAfterSeconds;
    const message =
      rule.message ??
      (rule.status === 429
        ? 'Too many requests, please try again later.'
        : rule.status === 500
          ? 'Internal error occurred: injected fault'
          : `injected ${rule.status} fault`);
    return new ApiError(
      rule.status,
      reason,
      message,
      retry !== undefined ? { retryAfterSeconds: retry } : undefined,
      retry !== undefined ? { 'Retry-After': String(retry) } : {},
    );
  }
}
