/** Where core code writes diagnostics; the extension backs it with a LogOutputChannel. */
export interface Logger {
  trace(message: string): void;
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string | Error): void;
}

/** A logger that drops everything: the default when the caller gives none. */
export const silentLogger: Logger = {
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

const bearerPattern = /(Bearer\s+)[A-Za-z0-9\-._~+/]+=*/gi;
const tokenParameterPattern = /([?&](?:token|access_token)=)[^&\s]+/gi;

/** Removes bearer tokens and token query parameters from text before it is logged or shown. */
export function redactSecrets(text: string, secrets: readonly string[] = []): string {
  let redacted = text
    .replace(bearerPattern, '$1<redacted>')
    .replace(tokenParameterPattern, '$1<redacted>');
  for (const secret of secrets) {
    if (secret.length >= 8) {
      redacted = redacted.split(secret).join('<redacted>');
    }
  }
  return redacted;
}
