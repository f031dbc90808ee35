/** An error the proxy answers with, Docker style: `{"message": …}` and a fitting status. */
export class ProxyError extends Error {
  constructor(
    readonly status: number,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ProxyError';
  }
}
