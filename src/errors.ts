import type { NamespaceType } from "./namespaces.ts";
import { errnoName, errnoText } from "../ffi/libc.ts";

/** What a NamespaceError is about, for the caller to branch on and for its message. */
export interface NamespaceErrorInit {
  /** errno of the failed call (0 when the failure was found without a syscall). */
  errno: number;
  /** The syscall or step that failed: "setns", "open", "resolve", … */
  syscall: string;
  /** The namespace type involved, if one. */
  namespace?: NamespaceType;
  /** The target as the caller gave it. */
  target?: number | string;
  /** What to do about it, appended to the message after a dash. */
  hint?: string;
  /** Leave the errno out of the message (the text already says what is wrong). */
  quiet?: boolean;
}

/**
 * A namespace could not be found, opened or joined. `code` is the errno name
 * ("EPERM", "ESRCH", …) so callers can branch on it; the message says what to do.
 *
 * @example
 * ```ts
 * import { NamespaceError } from "@nsjoin/nsjoin";
 * const error = new NamespaceError("Cannot join net namespace of pid 42", {
 *   errno: 1,
 *   syscall: "setns",
 *   namespace: "net",
 *   target: 42,
 * });
 * if (error.code !== "EPERM") throw new Error("unexpected");
 * ```
 */
export class NamespaceError extends Error {
  /** Always "NamespaceError". */
  override name = "NamespaceError";
  /** errno name, e.g. "EPERM"; "EINVAL" for input that is not what it should be. */
  readonly code: string;
  /** errno value. */
  readonly errno: number;
  /** The syscall or step that failed. */
  readonly syscall: string;
  /** The namespace type involved, if one. */
  readonly namespace?: NamespaceType;
  /** The target as the caller gave it. */
  readonly target?: number | string;

  /**
   * Makes the error; the message is `what`, the errno's name and text, then the hint.
   *
   * @param what "Cannot …" — what could not be done
   * @param init errno, syscall, namespace, target and an optional hint
   */
  constructor(what: string, init: NamespaceErrorInit) {
    const reason = init.errno && !init.quiet
      ? `: ${errnoName(init.errno)} (${errnoText(init.errno)})`
      : "";
    super(`${what}${reason}${init.hint ? ` - ${init.hint}` : ""}`);
    this.errno = init.errno;
    this.code = init.errno ? errnoName(init.errno) : "EINVAL";
    this.syscall = init.syscall;
    this.namespace = init.namespace;
    this.target = init.target;
  }
}
