/**
 * The environment of an exec in a docker container, as dockerd builds it: one rule for the
 * full path (src/container_exec.ts) and `exec`'s fast path (src/cli/_exec_fast.ts), which
 * must not load the former. Internal.
 *
 * @module
 */

/** Sets KEY=VALUE in a list of entries, replacing an entry of the same key. */
export function setEnv(env: string[], entry: string): string[] {
  const key = entry.includes("=") ? entry.slice(0, entry.indexOf("=")) : entry;
  const i = env.findIndex((e) => e === key || e.startsWith(`${key}=`));
  if (i >= 0) env[i] = entry;
  else env.push(entry);
  return env;
}

/**
 * docker's CreateDaemonEnvironment: PATH, HOSTNAME, TERM with a tty, then the container's
 * Config.Env over them.
 *
 * @param config the container's Env and hostname
 * @param tty whether the exec has a terminal
 * @returns the entries, in order
 */
export function dockerExecEnv(
  config: { env: readonly string[]; hostname?: string },
  tty: boolean | undefined,
): string[] {
  const env = [
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    `HOSTNAME=${config.hostname ?? ""}`,
  ];
  if (tty) env.push("TERM=xterm");
  for (const e of config.env) setEnv(env, e);
  return env;
}

/** KEY=VALUE entries as NsCommand's `env` (an entry without a key is left out). */
export function envRecord(env: readonly string[]): Record<string, string> {
  const record: Record<string, string> = {};
  for (const e of env) {
    const eq = e.indexOf("=");
    if (eq > 0) record[e.slice(0, eq)] = e.slice(eq + 1);
  }
  return record;
}
