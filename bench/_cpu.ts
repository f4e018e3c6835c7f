/**
 * CPU time of the processes a bench ran: on a machine shared with other work, wall-time
 * medians of whole `deno run`s swing with the load, their CPU times much less.
 *
 * @module
 */

const libc = Deno.dlopen("libc.so.6", {
  /** int getrusage(int who, struct rusage *usage) */
  getrusage: { parameters: ["i32", "buffer"], result: "i32" },
});
const RUSAGE_CHILDREN = -1;

/**
 * User + system CPU time, ms, of every child this process has waited for so far (with their
 * own waited-for children): the difference around one `Deno.Command#output()` is that run's.
 *
 * @returns milliseconds
 */
export function childrenCpu(): number {
  // struct rusage begins with ru_utime and ru_stime, two struct timevals (s, µs).
  const ru = new BigInt64Array(18);
  if (libc.symbols.getrusage(RUSAGE_CHILDREN, ru) !== 0) throw new Error("getrusage failed");
  return Number(ru[0] + ru[2]) * 1e3 + Number(ru[1] + ru[3]) / 1e3;
}
