/**
 * Picked files against Kustomer's limits ({@linkcode FILE_LIMITS}): they come with the engine,
 * since files can be picked only in a chat.
 *
 * @module
 */

import { FILE_LIMITS } from "../messages.ts";

/** The MIME types Kustomer accepts. */
const MIME = [
  "image/jpeg",
  "image/png",
  "application/pdf",
  "application/msword",
  "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
  "application/vnd.ms-excel",
  "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
  "application/zip",
  "text/plain",
  "video/quicktime",
  "video/mp4",
];

/** The `accept` string for the host's file picker. */
export const ALLOWED_FILE_TYPES: string = [...FILE_LIMITS.extensions, ...MIME].join(",");

/** A size in megabytes, for messages. */
const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

/**
 * Why each upload cannot go to Kustomer (undefined when it can): a type Kustomer refuses, a file
 * over 5 MB, or a file that takes the message over 9.5 MB (counting the good files before it).
 */
export function fileProblems(
  uploads: readonly { file: { name: string; size: number; type: string } }[],
): (string | undefined)[] {
  let total = 0;
  return uploads.map(({ file: { name, size, type } }) => {
    const lower = name.toLowerCase();
    const problem = !FILE_LIMITS.extensions.some((ext) => lower.endsWith(ext)) &&
        !MIME.includes(type)
      ? `${name}: Kustomer accepts only ${
        FILE_LIMITS.extensions.map((e) => e.slice(1).toUpperCase()).join(", ")
      } files`
      : size > FILE_LIMITS.maxFileBytes
      ? `${name} is ${mb(size)}; Kustomer accepts files up to 5 MB`
      : total + size > FILE_LIMITS.maxMessageBytes
      ? `${name}: the message would exceed Kustomer's 9.5 MB limit`
      : undefined;
    if (!problem) total += size;
    return problem;
  });
}
