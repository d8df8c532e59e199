/**
 * The simulated Kustomer Core's checks and small helpers: SDK errors, attachment types, custom
 * attribute rules, cloning.
 *
 * @module
 */

import type { KustomerSdkError } from "../kustomer_types.ts";
import { MAX_TEXT_ATTRIBUTE_LENGTH } from "./types.ts";

// ---------------------------------------------------------------------------------------------
// Internals
// ---------------------------------------------------------------------------------------------

export const _ALLOWED_EXTENSIONS: ReadonlySet<string> = new Set([
  "jpg",
  "jpeg",
  "png",
  "pdf",
  "doc",
  "docx",
  "xls",
  "xlsx",
  "zip",
  "txt",
  "mov",
  "mp4",
]);

export const _ALLOWED_MIME_TYPES: ReadonlySet<string> = new Set([
  "image/jpeg",
  "image/jpg",
  "image/png",
  "application/pdf",
  "application/msword",
  "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
  "application/vnd.ms-excel",
  "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
  "application/zip",
  "application/x-zip-compressed",
  "text/plain",
  "video/quicktime",
  "video/mp4",
]);

export const _ATTRIBUTE_NAME = /^[A-Za-z_][A-Za-z0-9_]*(Str|Txt|Num|At|Bool|Url)$/;
export const _DAY_MS = 24 * 60 * 60 * 1000;

export const _STATUS_TITLES: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  409: "Conflict",
  413: "Payload Too Large",
  415: "Unsupported Media Type",
  429: "Too Many Requests",
  500: "Internal Server Error",
};

export function _sdkError(
  status: number,
  code: string,
  message: string,
  source?: unknown,
): KustomerSdkError {
  const error = new Error(message) as KustomerSdkError;
  error.status = status;
  error.code = code;
  error.title = _STATUS_TITLES[status] ?? "Error";
  if (source !== undefined) error.source = source;
  return error;
}

export function _isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function _clone<T>(value: T): T {
  return structuredClone(value);
}

export function _checkTimes(times: number, what: string): void {
  if (!(times === Infinity || (Number.isInteger(times) && times > 0))) {
    throw new RangeError(
      `Cannot ${what}: times must be a positive integer or Infinity, got ${times}`,
    );
  }
}

export function _checkDelay(value: number, name: string): number {
  if (!Number.isFinite(value) || value < 0) {
    throw new RangeError(`Invalid ${name}: expected a finite number >= 0, got ${value}`);
  }
  return value;
}

export function _redact(options: unknown): unknown {
  if (!_isObject(options)) return options;
  const copy: Record<string, unknown> = { ...options };
  if ("jwtToken" in copy) copy.jwtToken = "[redacted]";
  return copy;
}

export function _checkCustomAttributes(attributes: unknown): KustomerSdkError | undefined {
  if (!_isObject(attributes)) {
    return _sdkError(400, "invalid_custom_attributes", "customAttributes must be an object");
  }
  for (const [name, value] of Object.entries(attributes)) {
    const match = _ATTRIBUTE_NAME.exec(name);
    if (!match) {
      return _sdkError(
        400,
        "invalid_attribute_name",
        `Custom attribute ${name} must be a system name ending with Str, Txt, Num, At, Bool or Url`,
        name,
      );
    }
    if (value === null) continue;
    const suffix = match[1];
    const bad = (expected: string) =>
      _sdkError(
        400,
        "invalid_attribute_value",
        `Custom attribute ${name} must be ${expected}`,
        name,
      );
    switch (suffix) {
      case "Str":
      case "Txt":
        if (typeof value !== "string") return bad("a string");
        if (value.length > MAX_TEXT_ATTRIBUTE_LENGTH) {
          return bad(`at most ${MAX_TEXT_ATTRIBUTE_LENGTH} characters (got ${value.length})`);
        }
        break;
      case "Num":
        if (typeof value !== "number" || !Number.isFinite(value)) return bad("a finite number");
        break;
      case "Bool":
        if (typeof value !== "boolean") return bad("a boolean");
        break;
      case "At":
        if (
          !(typeof value === "number" && Number.isFinite(value)) &&
          !(typeof value === "string" && !Number.isNaN(Date.parse(value)))
        ) return bad("an ISO date string or epoch milliseconds");
        break;
      case "Url":
        if (typeof value !== "string") return bad("a URL string");
        break;
    }
  }
  return undefined;
}

export function _mergeAttributes(
  target: Record<string, unknown>,
  source: Record<string, unknown>,
): void {
  for (const [name, value] of Object.entries(source)) {
    if (value === null) delete target[name];
    else target[name] = _clone(value);
  }
}
