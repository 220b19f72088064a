/**
 * Python lines for a cell in a gateway pod that sets `gateway_auth`, the headers of a request to
 * the gateway itself. The gateway keeps its token out of its kernels' environment, but the
 * container's first process (the gateway, or its idle supervisor) has it.
 */
export const gatewayAuthLines = [
  'first_process = open("/proc/1/environ").read().split("\\0")',
  'gateway_token = dict(v.split("=", 1) for v in first_process if "=" in v)["KG_AUTH_TOKEN"]',
  'gateway_auth = {"Authorization": "token " + gateway_token}',
];
