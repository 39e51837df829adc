import { NodeError } from "../../errors.js";

/**
 * A refusal the client API answers with: its HTTP status, a stable snake_case code and the
 * one-line message of the one error shape `{"error": {"code", "message"}}`, plus any headers the
 * status needs (Retry-After on 429, Content-Range on 416, Allow on 405).
 *
 * @example throw new ApiError(413, "file_too_large", "the file is larger than 1024 bytes");
 */
export class ApiError extends NodeError {
  override name = "ApiError";
  readonly status: number;
  readonly code: string;
  readonly headers: Readonly<Record<string, string>>;
  constructor(
    status: number,
    code: string,
    message: string,
    options: { headers?: Record<string, string>; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? {} : { cause: options.cause });
    this.status = status;
    this.code = code;
    this.headers = options.headers ?? {};
  }
}

/** The JSON body of an error reply. */
export function errorBody(code: string, message: string): string {
  return JSON.stringify({ error: { code, message } });
}
