/*
 * nsjoin-helper: join namespaces, then execve a program. Freestanding: raw syscalls,
 * no libc, one static ELF for x86_64 and one for aarch64 (ffi/build_helper.ts).
 *
 * Why a separate process: Deno is multithreaded and the kernel refuses setns() into a
 * user namespace (EINVAL) or a time namespace (EUSERS) to a multithreaded caller, and a
 * mount namespace to a thread sharing its fs_struct; JavaScript cannot run after fork()
 * (DESIGN.md facts 1, 2, 7). This program is single-threaded from its first instruction.
 *
 * argv: nsjoin-helper OPTION... -- PROGRAM [ARG...]   (written only by src/command.ts)
 *   P<pid>:<starttime>[:<inode>]  the target, pinned with pidfd_open; then proven to be the
 *                       process that was resolved by its pidfs inode (one fstat, Linux 6.9+)
 *                       or else by its start time (/proc/PID/stat, ~45 us)
 *   J<hexmask>          join these CLONE_NEW* types of the target (setns(pidfd, mask))
 *   I                   nsenter's identity rule: when a user namespace was joined and no U/G
 *                       is given, become uid/gid 0 there and drop supplementary groups
 *   N<hexflag>=<path>   join the namespace file at path (must be of that type)
 *   A                   no setns(pidfd, mask): one fd per namespace (pre-5.8 path)
 *   f                   P names the PID as a user typed it, nothing resolved by the caller
 *                       (nsjoin enter's fast path, src/cli/_enter_fast.ts, becomes us at once):
 *                       what src/target.ts refuses before any helper runs is refused here
 *                       instead, after the pidfd pins the process, in the CLI's words and with
 *                       its exit codes (see resolve_here())
 *   d<ID>:<NAME>        P is the PID dockerd's state names for docker's container ID (named
 *                       NAME; `nsjoin exec docker:NAME`'s fast path, src/cli/_exec_fast.ts, which
 *                       pinned nothing): after the pidfd pins it, the process must be in a
 *                       root-made cgroup named for ID below no other container's (else refused in
 *                       the CLI's words, 125); then its cgroups are joined as C and H would join
 *                       them, and a frozen one (docker pause) is refused. See docker_checks().
 *   r<USER>             with d: the user name|uid[:group|gid] from the container's /etc/passwd and
 *                       /etc/group (U, G, S as docker gives them; HOME appended to the
 *                       environment when it has none). See container_user().
 *   u                   every N file of a pid or user namespace must be ours, of a mount
 *                       namespace owned by our user namespace (see check_own_file())
 *   b                   nsenter -a: of J's types, join only those whose namespace is not
 *                       ours already (see differing_types()); when the mount namespace is
 *                       then joined, p is dropped (the program is looked up inside)
 *   R<path>             root directory (opened before joining; fchdir+chroot after)
 *   D<path>             working directory (opened before joining; fchdir after)
 *   W<path>             working directory inside the target (chdir after joining; in a
 *                       joined user namespace as its uid and gid 0, as runc: see
 *                       fs_ids_of_namespace_root)
 *   w                   with W: change directory as ourselves also in a joined user
 *                       namespace (nsenter -W: the path is the caller's choice)
 *   C<path>             a cgroup file to join, a v1 hierarchy's tasks (or any cgroup.procs):
 *                       opened before joining, written after; it moves us, and a child we
 *                       fork is born in that cgroup
 *   H<dir>              the cgroup v2 directory to join (one): when we fork an intermediate
 *                       process is born in it (clone3 CLONE_INTO_CGROUP), else its
 *                       cgroup.procs is written as for C. See join_cgroup_v2().
 *   U<uid> G<gid> X     setuid / setgid / drop supplementary groups (before any fork)
 *   S<gid>[,<gid>...]   set these supplementary groups (instead of dropping them)
 *   K<fd>               keep this fd open across execve (else only 0-2 survive)
 *   F                   do not fork, even when a pid namespace was joined
 *   Y                   a pseudo-terminal from the target's /dev/ptmx (T: the session's own
 *                       devpts): the program gets it as
 *                       its controlling tty; a process forked before any join (it alone
 *                       holds the caller's stdio) relays stdin/stdout and SIGWINCH, with no
 *                       capability but CAP_KILL and no_new_privs (relay_drop_privs), and
 *                       prints on the caller's stderr a failure line of ours made once the
 *                       pty is our stderr (an execve that fails: see relay_report)
 *   B<hex> E<hex>       capability bounding set / effective+permitted+inheritable limits
 *   V                   set no_new_privs
 *   c                   nsenter --keep-caps: the permitted capabilities become inheritable and
 *                       ambient, so the program keeps them across execve as a non-root uid
 *   n                   execvp(3)'s rule: a file the kernel cannot execute (ENOEXEC, e.g. a
 *                       script without "#!") is run with /bin/sh, as nsenter runs programs
 *   O                   the environment's order: Deno.Command sorts envp, so the caller
 *                       names the keys, '='-separated, in the variable NSJOIN_ENV_ORDER and
 *                       we put envp back in that order (entries not named follow) and drop
 *                       that variable. Not in argv: /proc/PID/cmdline is readable by every
 *                       local user, the environment only by the same user.
 *   s<argv0>            the program's argv[0], where it is not the program's path: nsenter
 *                       starts the default shell as a login shell ("-sh", execl(3) of
 *                       $SHELL with "-" and its basename)
 *   p<PATH>             look the program up on this PATH (the caller's) instead of envp's:
 *                       a PATH from the target is used only inside its mount namespace
 *   h<name>             a failure line starts "<name>: " instead of "nsjoin: " (the CLI's
 *                       command, "nsjoin enter"; at most 64 bytes, else ignored)
 *   e<fd>               also report a failure on this fd, as one record "CODE ERRNO STEP NS
 *                       MESSAGE\n" (the caller's private pipe: a failure of ours is then
 *                       never mistaken for a program that exits 125-127)
 *   k<ppid>             die (SIGKILL) with our parent: PR_SET_PDEATHSIG, checked against
 *                       ppid (0: only for a child we fork) and set again after every
 *                       credential change, which clears it
 *   t                   a session of its own: fork, the child starts a new session (no
 *                       controlling terminal) and we relay signals to it alone. A program
 *                       left in the caller's session has the caller's terminal as its
 *                       /dev/tty, where TIOCSTI needs no privilege: it types into the
 *                       caller's shell (runc starts every exec with setsid for this). With
 *                       t or Y, a session keyring of its own too, as runc's (the caller's
 *                       keys stay ours)
 *   g                   a process tree of its own: fork, the child starts a new session,
 *                       and the signals we relay go to its whole process group
 *   M<name>             after joining, do what `ip netns exec NAME` does: a private mount
 *                       namespace with a fresh /sys (it shows the joined net namespace's
 *                       devices) and each file of /etc/netns/NAME bound over its /etc twin
 *   Q                   we replaced the caller (it called execve, not a spawn API): start as
 *                       a fresh spawn would, with no blocked signals and SIGPIPE at default
 *   z                   install the target's seccomp filters (read from it with ptrace before
 *                       joining, by a child killed after 5 s: see ptrace_filters), as runc
 *                       exec installs the container's
 *   Z<fd>               with z: the filters as an earlier x left them in this fd (a sealed
 *                       memfd of the caller), used instead of ptrace only while the target
 *                       still has as many filters (Seccomp_filters in /proc/PID/status):
 *                       filters are only ever added, so the same process with as many has
 *                       these. Else read with ptrace, as z alone.
 *   x<fd>               with z: after reading the filters with ptrace, write them to this fd
 *                       (for a later Z): u32 count, count x {u32 length, u32 flags}, then
 *                       the instructions, newest filter first
 *   l<soft>:<hard>,...  resource limits 0..15 to set (i = unlimited), the target's as
 *                       /proc/PID/limits shows them
 *   o<int>              oom_score_adj (set before joining: /proc/self may not resolve after)
 *   m<octal>            umask
 *   i<letters>          read from the target itself what the caller would pass as these
 *                       options, one letter each: B and E (CapBnd and CapEff of
 *                       /proc/PID/status), V (set when its NoNewPrivs is 1), m (its Umask), z
 *                       (when its Seccomp mode is 2; mode 1, strict, is refused), l
 *                       (/proc/PID/limits), o (its oom_score_adj, written when not ours);
 *                       read after the pin check, which with the pidfd check before the first
 *                       join covers them (o's before it, as o is written: a PID reused by
 *                       then fails the pin check); Z and x apply to a z chosen so as to z
 *   a<label>            LSM label for the program (written to /proc/self/attr/exec)
 *   T<dir>              debug: instead of the target's mount namespace, a private one made for
 *                       the program: a read-only copy of the tools of <dir> (/usr, /bin, /sbin,
 *                       /lib*, a few /etc files; "/" for the host's), the target's root at
 *                       /target, a fresh /proc of the joined pid namespace (procfs pidns=,
 *                       Linux 6.18), /sys of the joined net namespace, a private /tmp, a
 *                       minimal /dev. See debug_*() below.
 *   L<sock>:<pipe>      an exec session (src/session.ts): everything above once, then, instead
 *                       of one program, each one the pipe asks for, forked from us as the
 *                       one-shot path forks its child; the socket only hands the caller, once,
 *                       the end of the socket we reply on. See session_loop() below.
 *
 * Security (runc CVE-2016-9962, 2019-5736, 2024-21626): non-dumpable from the first
 * instruction until execve, so nothing inside the target can ptrace it or open its
 * /proc/PID/{mem,exe,fd}; every inherited fd but 0-2 (and K, e) is closed before the first
 * join, ours before execve; the cwd is checked with getcwd(2) to be reachable from the (new)
 * root, and refused when getcwd fails (a deleted directory) or it came through /proc/PID/fd.
 * Text from others (paths, the program's name) is printed with control bytes as \xNN.
 * Non-dumpable is not enough for a child we fork into the target's pid namespace: a task
 * there with CAP_SYS_PTRACE in the initial user namespace (a rootful container run with
 * --cap-add SYS_PTRACE) passes __ptrace_may_access for any non-dumpable task whose
 * mm->user_ns is the initial one (ours and our child's), and so may PTRACE_SEIZE it, open its
 * /proc/PID/mem for writing (mm_access: no "already traced" exclusivity) and its
 * /proc/PID/{root,fd}. So the rule: nothing in the target's pid namespace ever holds more than
 * the target. Every step that needs privilege (the debug mount namespace, cgroups, limits,
 * the bounding set, no_new_privs, groups, ids, capabilities) and the seccomp filter are done
 * by this process, which stays in the caller's pid namespace where the target cannot see it,
 * and every fd but the program's, the caller's pipe and the pty is closed before the fork:
 * the child is born with the program's credentials and filter, and only sets up its
 * terminal, closes the rest, arms its parent-death signal and calls execve. This process
 * then relays as the target's user, under the target's seccomp filter.
 *
 * Exit codes: 125 could not join / set up, 126 program not executable (any execve error but
 * ENOENT), 127 not found;
 * otherwise the program's status (a signal death is re-raised on this process).
 */

typedef unsigned long size_t;
typedef long ssize_t;

#if defined(__x86_64__)
enum {
  SYS_read = 0, SYS_write = 1, SYS_close = 3, SYS_rt_sigprocmask = 14, SYS_rt_sigaction = 13, SYS_fstat = 5, SYS_mount = 165, SYS_umount2 = 166,
  SYS_getdents64 = 217, SYS_statfs = 137, SYS_getpid = 39,
  SYS_clone = 56, SYS_execve = 59, SYS_exit_group = 231, SYS_wait4 = 61, SYS_kill = 62,
  SYS_getcwd = 79, SYS_chdir = 80, SYS_fchdir = 81, SYS_setuid = 105, SYS_setgid = 106,
  SYS_setgroups = 116, SYS_rt_sigtimedwait = 128, SYS_prctl = 157, SYS_chroot = 161,
  SYS_openat = 257, SYS_unshare = 272, SYS_prlimit64 = 302, SYS_setns = 308,
  SYS_ioctl = 16, SYS_setsid = 112, SYS_capget = 125, SYS_capset = 126, SYS_ppoll = 271,
  SYS_signalfd4 = 289, SYS_dup3 = 292, SYS_getppid = 110, SYS_fstatfs = 138, SYS_fcntl = 72,
  SYS_ptrace = 101, SYS_seccomp = 317, SYS_umask = 95, SYS_getresuid = 118, SYS_getresgid = 120,
  SYS_getgroups = 115, SYS_mkdirat = 258, SYS_symlinkat = 266, SYS_readlinkat = 267,
  SYS_pivot_root = 155, SYS_setfsuid = 122, SYS_setfsgid = 123,
  SYS_socketpair = 53, SYS_sendmsg = 46, SYS_recvmsg = 47, SYS_setpgid = 109, SYS_pipe2 = 293,
  SYS_newfstatat = 262, SYS_keyctl = 250, SYS_add_key = 248, SYS_mmap = 9, SYS_munmap = 11,
};
__asm__(".text\n.global _start\n_start:\n"
        "  xor %rbp, %rbp\n  mov %rsp, %rdi\n  and $-16, %rsp\n  call start_c\n  hlt\n");
static long sys6(long n, long a, long b, long c, long d, long e, long f) {
  register long r10 __asm__("r10") = d;
  register long r8 __asm__("r8") = e;
  register long r9 __asm__("r9") = f;
  long ret;
  __asm__ volatile("syscall"
                   : "=a"(ret)
                   : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                   : "rcx", "r11", "memory");
  return ret;
}
#elif defined(__aarch64__)
enum {
  SYS_getcwd = 17, SYS_openat = 56, SYS_close = 57, SYS_read = 63, SYS_write = 64,
  SYS_fchdir = 50, SYS_chdir = 49, SYS_chroot = 51, SYS_exit_group = 94, SYS_unshare = 97,
  SYS_kill = 129, SYS_rt_sigtimedwait = 137, SYS_rt_sigprocmask = 135, SYS_rt_sigaction = 134, SYS_fstat = 80, SYS_mount = 40, SYS_umount2 = 39,
  SYS_getdents64 = 61, SYS_statfs = 43, SYS_setgid = 144,
  SYS_setuid = 146, SYS_setgroups = 159, SYS_prctl = 167, SYS_getpid = 172, SYS_clone = 220,
  SYS_execve = 221, SYS_wait4 = 260, SYS_prlimit64 = 261, SYS_setns = 268,
  SYS_ioctl = 29, SYS_setsid = 157, SYS_capget = 90, SYS_capset = 91, SYS_ppoll = 73,
  SYS_signalfd4 = 74, SYS_dup3 = 24, SYS_getppid = 173, SYS_fstatfs = 44, SYS_fcntl = 25,
  SYS_ptrace = 117, SYS_seccomp = 277, SYS_umask = 166, SYS_getresuid = 148, SYS_getresgid = 150,
  SYS_getgroups = 158, SYS_mkdirat = 34, SYS_symlinkat = 36, SYS_readlinkat = 78,
  SYS_pivot_root = 41, SYS_setfsuid = 151, SYS_setfsgid = 152,
  SYS_socketpair = 199, SYS_sendmsg = 211, SYS_recvmsg = 212, SYS_setpgid = 154, SYS_pipe2 = 59,
  SYS_newfstatat = 79, SYS_keyctl = 219, SYS_add_key = 217, SYS_mmap = 222, SYS_munmap = 215,
};
__asm__(".text\n.global _start\n_start:\n"
        "  mov x29, #0\n  mov x30, #0\n  mov x0, sp\n  and sp, x0, #-16\n  bl start_c\n");
static long sys6(long n, long a, long b, long c, long d, long e, long f) {
  register long x8 __asm__("x8") = n;
  register long x0 __asm__("x0") = a;
  register long x1 __asm__("x1") = b;
  register long x2 __asm__("x2") = c;
  register long x3 __asm__("x3") = d;
  register long x4 __asm__("x4") = e;
  register long x5 __asm__("x5") = f;
  __asm__ volatile("svc 0"
                   : "+r"(x0)
                   : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
                   : "memory");
  return x0;
}
#else
#error "nsjoin-helper supports x86_64 and aarch64"
#endif

/* Numbers shared by both architectures (asm-generic and x86_64 agree from 424 on). */
enum { SYS_pidfd_send_signal = 424, SYS_pidfd_open = 434, SYS_clone3 = 435, SYS_close_range = 436,
       SYS_openat2 = 437, SYS_open_tree = 428, SYS_move_mount = 429, SYS_fsopen = 430,
       SYS_fsconfig = 431, SYS_fsmount = 432, SYS_mount_setattr = 442 };

#define sys0(n) sys6(n, 0, 0, 0, 0, 0, 0)
#define sys1(n, a) sys6(n, (long)(a), 0, 0, 0, 0, 0)
#define sys2(n, a, b) sys6(n, (long)(a), (long)(b), 0, 0, 0, 0)
#define sys3(n, a, b, c) sys6(n, (long)(a), (long)(b), (long)(c), 0, 0, 0)
#define sys4(n, a, b, c, d) sys6(n, (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)

#define AT_FDCWD (-100)
#define O_RDONLY 0
#define O_WRONLY 1
#define O_CLOEXEC 02000000
#define O_PATH 010000000
#define PR_SET_DUMPABLE 4
#define SIGCHLD 17
#define WNOHANG 1
#define WUNTRACED 2
#define SIG_BLOCK 0
#define SIG_SETMASK 2
#define RLIMIT_NOFILE 7
#define O_RDWR 2
#define O_NOCTTY 0400
#define O_NONBLOCK 04000
#define PR_SET_NO_NEW_PRIVS 38
#define PR_CAPBSET_DROP 24
#define CAP_KILL 5
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#define PR_CAP_AMBIENT_RAISE 2
#define TIOCGWINSZ 0x5413
#define TIOCSWINSZ 0x5414
#define TIOCSCTTY 0x540E
#define TIOCGPTPEER 0x5441
#define TIOCSPTLCK 0x40045431
#define POLLIN 0x1
#define SIGWINCH 28
#define SIGKILL 9
#define SIGSTOP 19
#define SIGCONT 18
#define SIGPWR 30
#define PR_SET_PDEATHSIG 1
#define O_DIRECTORY 0200000
#define RESOLVE_NO_MAGICLINKS 0x02
#define TCGETS 0x5401
#define TCSETSW 0x5403
#define OPOST 1
#define S_IFMT 0170000
#define S_IFREG 0100000
#define S_IFDIR 0040000
#define S_IFCHR 0020000
#define CLONE_INTO_CGROUP 0x200000000UL
#define NSFS_MAGIC 0x6e736673
#define NS_GET_USERNS 0xb701 /* _IO(0xb7, 0x1): an fd of the namespace's owning user namespace */
#define CGROUP_SUPER_MAGIC 0x27e0eb
#define CGROUP2_SUPER_MAGIC 0x63677270

#define CLONE_NEWTIME 0x00000080
#define CLONE_NEWNS 0x00020000
#define CLONE_NEWCGROUP 0x02000000
#define CLONE_NEWUTS 0x04000000
#define CLONE_NEWIPC 0x08000000
#define CLONE_NEWUSER 0x10000000
#define CLONE_NEWPID 0x20000000
#define CLONE_NEWNET 0x40000000

enum { EPERM = 1, ENOENT = 2, ESRCH = 3, EINTR = 4, E2BIG = 7, ENOEXEC = 8, EBADF = 9,
       EAGAIN = 11, ENOMEM = 12, EACCES = 13, ENOTDIR = 20, EINVAL = 22, ENOSYS = 38,
       ELOOP = 40, EUSERS = 87, ENAMETOOLONG = 36, EMFILE = 24, EBUSY = 16,
       EOPNOTSUPP = 95, ENODEV = 19, EIO = 5, ENXIO = 6, ECHILD = 10, EEXIST = 17,
       EXDEV = 18, ENOTTY = 25, EFBIG = 27, ENOSPC = 28, EROFS = 30, EPIPE = 32, ENOTEMPTY = 39 };

/* gcc may emit calls to these even when freestanding. */
void *memset(void *d, int c, size_t n) {
  unsigned char *p = d;
  while (n--) *p++ = (unsigned char)c;
  return d;
}
void *memcpy(void *d, const void *s, size_t n) {
  unsigned char *p = d;
  const unsigned char *q = s;
  while (n--) *p++ = *q++;
  return d;
}

static size_t slen(const char *s) {
  size_t n = 0;
  while (s[n]) n++;
  return n;
}
static int starts(const char *s, const char *p) {
  while (*p)
    if (*s++ != *p++) return 0;
  return 1;
}

/* One error line, built in a buffer and written with one write(2). */
static char msg[1024];
static size_t mlen;
static void put(const char *s) {
  while (*s && mlen < sizeof msg - 2) msg[mlen++] = *s++;
}
/* Text someone else chose (a path, the program's name): control bytes (C0, DEL, the C1
 * range as UTF-8) and a backslash before 'x' become \xNN, as lsns prints them, so the
 * line stays one line and no escape sequence reaches a terminal. */
static void putesc(const char *s) {
  static const char hex[] = "0123456789abcdef";
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    int c1 = p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f;
    int n = c1 ? 2 : (*p < 0x20 || *p == 0x7f || (*p == '\\' && p[1] == 'x')) ? 1 : 0;
    if (!n) {
      char c[2] = {(char)*p, 0};
      put(c);
      continue;
    }
    for (int k = 0; k < n; k++) {
      char e[5] = {'\\', 'x', hex[p[k] >> 4], hex[p[k] & 15], 0};
      put(e);
    }
    p += n - 1;
  }
}
static void putnum(unsigned long v) {
  char b[24];
  int i = 0;
  do b[i++] = (char)('0' + v % 10); while ((v /= 10) && i < 24);
  while (i) {
    char c[2] = {b[--i], 0};
    put(c);
  }
}
static const char *errname(long e) {
  switch (e) {
  case EPERM: return "EPERM (operation not permitted)";
  case ENOENT: return "ENOENT (no such file or directory)";
  case ESRCH: return "ESRCH (no such process)";
  case E2BIG: return "E2BIG (argument list too long)";
  case ENOEXEC: return "ENOEXEC (exec format error)";
  case EBADF: return "EBADF (bad file descriptor)";
  case EAGAIN: return "EAGAIN (resource temporarily unavailable)";
  case ENOMEM: return "ENOMEM (cannot allocate memory)";
  case EACCES: return "EACCES (permission denied)";
  case ENOTDIR: return "ENOTDIR (not a directory)";
  case EINVAL: return "EINVAL (invalid argument)";
  case ENOSYS: return "ENOSYS (function not implemented)";
  case ELOOP: return "ELOOP (too many levels of symbolic links)";
  case EUSERS: return "EUSERS (too many users)";
  case ENAMETOOLONG: return "ENAMETOOLONG (file name too long)";
  case EMFILE: return "EMFILE (too many open files)";
  case EBUSY: return "EBUSY (device or resource busy)";
  case EOPNOTSUPP: return "EOPNOTSUPP (operation not supported)";
  case ENODEV: return "ENODEV (no such device)";
  case EIO: return "EIO (input/output error)";
  case ENXIO: return "ENXIO (no such device or address)";
  case ECHILD: return "ECHILD (no child processes)";
  case EEXIST: return "EEXIST (file exists)";
  case EXDEV: return "EXDEV (invalid cross-device link)";
  case ENOTTY: return "ENOTTY (inappropriate ioctl for device)";
  case ENOSPC: return "ENOSPC (no space left on device)";
  case EROFS: return "EROFS (read-only file system)";
  case EPIPE: return "EPIPE (broken pipe)";
  case ENOTEMPTY: return "ENOTEMPTY (directory not empty)";
  }
  return "system error";
}
static __attribute__((noreturn)) void die_code(int code) {
  for (;;) sys1(SYS_exit_group, code);
}
/* h<name>: what every failure line starts with, before ": " — the CLI gives its command's
 * name ("nsjoin enter"), so that the helper's lines read as the CLI's own. */
static const char *who = "nsjoin";
static size_t who_len = 6;
/* The caller's private pipe (e<fd>), and what the record on it says besides the text. */
static int errfd = -1;
static long last_errno;
static const char *fail_step = "setup", *fail_ns = "-";
/* Y: once the pty is our stderr (the dup3 before the fork), a failure line written there
 * would reach the caller's stdout through the relay, with the pty's "\r\n". It goes over
 * this pipe instead to the relay, which holds the caller's stderr and prints it there (see
 * supervise); close-on-exec, so the program never has it. A pipe, not the relay's socket:
 * the program's process holds it until execve, where a task of the target with
 * CAP_SYS_PTRACE may take it (pidfd_getfd), and SO_PEERPIDFD on a socketpair gives a pidfd
 * of the process that made it — the relay, whose fds (the caller's stdio) pidfd_getfd then
 * hands over with no pid-namespace check. A pipe carries no credentials. */
static int report_pipe = -1, relay_report = -1;
static void restore_tty(void);

static __attribute__((noreturn)) void fail(int code) {
  msg[mlen++] = '\n';
  restore_tty();
  sys3(SYS_write, relay_report >= 0 ? relay_report : 2, msg, mlen);
  if (errfd >= 0) {
    /* "CODE ERRNO STEP NS MESSAGE\n", the message without our "nsjoin: " prefix (who). */
    static char rec[1200];
    size_t n = 0;
    char num[24];
    const char *parts[4] = {0, 0, fail_step, fail_ns};
    for (int k = 0; k < 4; k++) {
      const char *s = parts[k];
      if (k < 2) {
        unsigned long v = k == 0 ? (unsigned long)code : (unsigned long)last_errno;
        int i = 23;
        num[i] = 0;
        do num[--i] = (char)('0' + v % 10); while ((v /= 10) && i > 0);
        s = num + i;
      }
      while (*s && n < 64 * (size_t)(k + 1)) rec[n++] = *s++;
      rec[n++] = ' ';
    }
    for (size_t i = who_len + 2; i < mlen && n < sizeof rec; i++) rec[n++] = msg[i];
    sys3(SYS_write, errfd, rec, n);
  }
  die_code(code);
}
static void begin(void) {
  mlen = 0;
  put(who);
  put(": ");
}
static void puterr(long err) {
  put(": ");
  if (err < 0) err = -err;
  last_errno = err;
  const char *n = errname(err);
  if (n[0] == 's') {
    put("errno ");
    putnum((unsigned long)err);
  } else {
    put(n);
  }
}

/* " - the target exited": the failure record's errno is then ESRCH, whatever the failed call
 * said (an open under /proc/PID of a process that exited is ENOENT), so that a caller of the
 * library tells an exit from a missing file by setupError.code alone. */
static void target_exited(void) {
  put(" - the target exited");
  last_errno = ESRCH;
}

/* A change of ids makes us dumpable again when fs.suid_dumpable is 1: then the target's
 * user (a rootless container's owner, any process of its uid inside) could ptrace us, and
 * the child born from us, and take the caller's terminal and pipe. So: not dumpable, again,
 * after the last change (narrowing capabilities leaves it as it is), and checked. Any process
 * may set a filter (with no_new_privs) that fails this prctl with an errno of its choice,
 * and we stayed its user's to ptrace: with no_new_privs we run before the target's filter
 * goes in; without, it is in already (runc's order) and a failure is refused.
 * prctl(PR_SET_DUMPABLE, 0) fails only so, and no filter action makes it return 0 without
 * running (a filter with RET_ERRNO 0 is refused when read; RET_TRACE without a tracer is
 * ENOSYS). */
static void undump(void) {
  long r = sys2(SYS_prctl, PR_SET_DUMPABLE, 0);
  if (r == 0) return;
  begin();
  put("Cannot make the helper non-dumpable after its credential change");
  puterr(r);
  put(" - the target's seccomp filter refuses prctl(PR_SET_DUMPABLE)");
  fail(125);
}

static const struct {
  unsigned flag;
  const char *name;
} NS[] = {
    /* nsenter's order; user is handled apart (see join_all). */
    {CLONE_NEWUSER, "user"}, {CLONE_NEWCGROUP, "cgroup"}, {CLONE_NEWIPC, "ipc"},
    {CLONE_NEWUTS, "uts"},   {CLONE_NEWNET, "net"},       {CLONE_NEWPID, "pid"},
    {CLONE_NEWNS, "mnt"},    {CLONE_NEWTIME, "time"},
};
#define NNS 8

static const char *nsname(unsigned flag) {
  for (int i = 0; i < NNS; i++)
    if (NS[i].flag == flag) return NS[i].name;
  return "?";
}

/* "/proc/<pid or self>/ns/<name>" into path (64 bytes: the longest is 31). */
static void ns_path(char *path, long pid, const char *name) {
  mlen = 0;
  put("/proc/");
  if (pid > 0) putnum((unsigned long)pid);
  else put("self");
  put("/ns/");
  put(name);
  memcpy(path, msg, mlen);
  path[mlen] = 0;
}

/* b: the types of mask whose namespace differs from ours, as nsenter -a picks them. Joining
 * our own again is useless at best and refused at worst (a user namespace: EINVAL; an
 * unprivileged caller's cgroup or time namespace); a type with no /proc/self/ns link is one
 * this kernel lacks. Two links name the same namespace when their stat(2) gives the same
 * device and inode (nsfs: an inode per namespace). We are single-threaded, so /proc/self is
 * the calling thread's. The target's links are read by path: the pidfd check after every
 * open by path (below) proves its PID was not reused meanwhile. */
static unsigned differing_types(unsigned mask, long pid) {
  for (int k = 0; k < NNS; k++) {
    if (!(mask & NS[k].flag)) continue;
    unsigned long mine[32], theirs[32]; /* struct stat: st_dev word 0, st_ino word 1 */
    char path[64];
    ns_path(path, 0, NS[k].name);
    long r = sys4(SYS_newfstatat, AT_FDCWD, path, mine, 0);
    if (r == -ENOENT) {
      mask &= ~NS[k].flag;
      continue;
    }
    if (r == 0) {
      ns_path(path, pid, NS[k].name);
      r = sys4(SYS_newfstatat, AT_FDCWD, path, theirs, 0);
    }
    if (r != 0) {
      fail_step = "open";
      fail_ns = NS[k].name;
      begin();
      put("Cannot open the ");
      put(NS[k].name);
      put(" namespace of pid ");
      putnum((unsigned long)pid);
      puterr(r);
      if (r == -ENOENT || r == -ESRCH) target_exited();
      fail(125);
    }
    if (mine[0] == theirs[0] && mine[1] == theirs[1]) mask &= ~NS[k].flag;
  }
  return mask;
}

static long parse_num(const char *s, int base, const char **end) {
  long v = 0;
  for (;; s++) {
    int d;
    if (*s >= '0' && *s <= '9') d = *s - '0';
    else if (base == 16 && *s >= 'a' && *s <= 'f') d = *s - 'a' + 10;
    else break;
    v = v * base + d;
  }
  if (end) *end = s;
  return v;
}

/* Joins in the order nsenter uses, user first; a join refused before the user namespace
 * is joined is retried after it, for a caller that owns the target's user namespace but
 * has no rights over the namespaces it owns until it is inside (rootless containers). */
struct join {
  int fd;
  unsigned flag;
  const char *path; /* for the error line; 0 = the target's */
  int done;
};
static long target_pid;

static void join_fail(struct join *j, long err) {
  begin();
  fail_step = "setns";
  fail_ns = nsname(j->flag);
  put("Cannot join ");
  put(nsname(j->flag));
  put(" namespace ");
  if (j->path) {
    put("file ");
    putesc(j->path);
  } else {
    put("of pid ");
    putnum((unsigned long)target_pid);
  }
  puterr(err);
  if (err == -EPERM) put(" - run as root, or join its user namespace too (-U)");
  else if (err == -EINVAL && j->flag == CLONE_NEWUSER)
    put(j->path ? " - it is not a user namespace, or it is the caller's own or an ancestor"
                : " - the caller may not enter that user namespace (it is its own or an ancestor)");
  else if (err == -EINVAL && j->path) put(" - it is not a namespace of that type");
  else if (err == -ESRCH) target_exited();
  fail(125);
}

static void join_all(struct join *js, int n) {
  for (int pass = 0; pass < 2; pass++) {
    for (int i = 0; i < n; i++) {
      if (js[i].done || js[i].flag == CLONE_NEWUSER) continue;
      long r = sys2(SYS_setns, js[i].fd, js[i].flag);
      if (r == 0) js[i].done = 1;
      else if (pass == 1) join_fail(&js[i], r);
    }
    if (pass == 0)
      for (int i = 0; i < n; i++) {
        if (js[i].flag != CLONE_NEWUSER) continue;
        long r = sys2(SYS_setns, js[i].fd, js[i].flag);
        if (r != 0) join_fail(&js[i], r);
        js[i].done = 1;
      }
  }
}

/* u: nsjoin exec's rule for a namespace file (_namespaceFileExec in src/container_exec.ts),
 * checked again on the fd that is joined: the caller looked at the path before spawning us,
 * and a path that is someone's symlink (or a /proc/PID of theirs) may name another namespace
 * by now. A pid or user namespace must be ours, a mount namespace one whose owner
 * (ioctl NS_GET_USERNS) is our user namespace. nsfs has one inode per namespace, so the same
 * st_dev and st_ino through /proc/self/ns (we have joined nothing yet) are the same
 * namespace, and the fd we hold keeps it alive: its inode number cannot be reused. */
static void check_own_file(struct join *j) {
  const char *name = j->flag == CLONE_NEWPID ? "pid"
                     : j->flag == CLONE_NEWUSER || j->flag == CLONE_NEWNS ? "user"
                                                                           : 0;
  if (!name) return;
  long fd = j->flag == CLONE_NEWNS ? sys3(SYS_ioctl, j->fd, NS_GET_USERNS, 0) : j->fd;
  unsigned long mine[32], theirs[32]; /* struct stat: st_dev word 0, st_ino word 1 */
  char path[64];
  ns_path(path, 0, name);
  int same = fd >= 0 && sys2(SYS_fstat, fd, theirs) == 0 &&
             sys4(SYS_newfstatat, AT_FDCWD, path, mine, 0) == 0 && mine[0] == theirs[0] &&
             mine[1] == theirs[1];
  if (fd >= 0 && fd != j->fd) sys1(SYS_close, fd);
  if (same) return;
  begin();
  fail_step = "open";
  fail_ns = nsname(j->flag);
  last_errno = EPERM;
  put("Cannot join namespace file ");
  putesc(j->path);
  put(j->flag == CLONE_NEWNS ? ": its user namespace is not ours (any more)"
                             : ": it is not ours (any more)");
  fail(125);
}

static int open_or_die(const char *path, int flags, const char *what) {
  long fd = sys4(SYS_openat, AT_FDCWD, path, flags | O_CLOEXEC, 0);
  if (fd < 0) {
    begin();
    fail_step = "open";
    put("Cannot open ");
    put(what);
    put(" ");
    putesc(path);
    puterr(fd);
    fail(125);
  }
  return (int)fd;
}

/* "/proc/self/fd/N" into out (at least 32 bytes). */
static void fd_path(char *out, long fd) {
  mlen = 0;
  put("/proc/self/fd/");
  putnum((unsigned long)fd);
  memcpy(out, msg, mlen);
  out[mlen] = 0;
}

/* A namespace file, a cgroup file or a cgroup v2 directory that someone may have swapped for a
 * FIFO (an open that never returns), a device (an open with side effects) or a directory of
 * another file system: opened O_PATH first, which opens nothing; the inode must be a regular
 * file (a directory for cgroup2 only) on the expected file system (statfs magic); only then
 * is that same inode opened for real, through /proc/self/fd/N (or kept: flags O_PATH). */
static int open_checked(const char *path, int flags, unsigned long magic, unsigned long magic2,
                        const char *what) {
  unsigned type = flags == O_PATH ? S_IFDIR : S_IFREG;
  int pfd = open_or_die(path, O_PATH, what);
  unsigned char st[256];
  unsigned long sfs[16] = {0}; /* struct statfs: f_type is the first word */
  /* st_mode: after st_nlink (8 bytes) on x86_64, before it in the generic layout. */
#if defined(__x86_64__)
  unsigned mode = sys2(SYS_fstat, pfd, st) == 0 ? *(unsigned *)(st + 24) : 0;
#else
  unsigned mode = sys2(SYS_fstat, pfd, st) == 0 ? *(unsigned *)(st + 16) : 0;
#endif
  if ((mode & S_IFMT) != type || sys2(SYS_fstatfs, pfd, sfs) != 0 ||
      (sfs[0] != magic && sfs[0] != magic2)) {
    begin();
    fail_step = "open";
    last_errno = EINVAL;
    put("Cannot use ");
    put(what);
    put(" ");
    putesc(path);
    put(magic == NSFS_MAGIC       ? ": it is not a namespace file"
        : type == S_IFDIR         ? ": it is not a cgroup v2 directory"
                                  : ": it is not a cgroup file");
    fail(125);
  }
  if (flags == O_PATH) return pfd;
  char p[32];
  fd_path(p, pfd);
  int fd = open_or_die(p, flags | O_NONBLOCK | O_NOCTTY, what);
  sys1(SYS_close, pfd);
  return fd;
}

/* /proc/PID/stat field 22 (start time), after the last ')' as comm may hold anything. */
static unsigned long start_time(long pid) {
  char path[64], buf[1024];
  mlen = 0;
  put("/proc/");
  putnum((unsigned long)pid);
  put("/stat");
  memcpy(path, msg, mlen);
  path[mlen] = 0;
  long fd = sys4(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0) return 0;
  long n = sys3(SYS_read, fd, buf, sizeof buf - 1);
  sys1(SYS_close, fd);
  if (n <= 0) return 0;
  buf[n] = 0;
  char *p = 0;
  for (long i = 0; i < n; i++)
    if (buf[i] == ')') p = buf + i;
  if (!p) return 0;
  p += 2; /* ") " then field 3 */
  for (int field = 3; field < 22 && *p; p++)
    if (*p == ' ') field++;
  return (unsigned long)parse_num(p, 10, 0);
}

/* /proc/PID/stat field 3 (state: R, S, D, T…), 0 when unreadable. */
static char stat_state(long pid) {
  char path[64], buf[1024];
  mlen = 0;
  put("/proc/");
  putnum((unsigned long)pid);
  put("/stat");
  memcpy(path, msg, mlen);
  path[mlen] = 0;
  long fd = sys4(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0) return 0;
  long n = sys3(SYS_read, fd, buf, sizeof buf - 1);
  sys1(SYS_close, fd);
  long close = -1;
  for (long i = 0; i < n; i++)
    if (buf[i] == ')') close = i;
  return close >= 0 && close + 2 < n ? buf[close + 2] : 0;
}

/* f: the checks src/target.ts makes (resolveTarget, _joinable) when the caller resolved
 * nothing, each failure one line as the CLI prints that error ("nsjoin enter: " and the
 * message of its NamespaceError or SyscallError), with its exit code: 125, or 1 for a /proc
 * read failing otherwise than "not found". Run after pidfd_open (its result in pidfd): the
 * pidfd then holds the process that /proc/PID/stat describes, as in resolveTarget. */
static void resolve_fail(const char *what, long pid, const char *rest, long err, int code) {
  mlen = 0;
  put("nsjoin enter: ");
  put(what);
  if (pid > 0) putnum((unsigned long)pid);
  put(rest);
  if (err) {
    /* ffi/libc.ts errnoName and errnoText: "E<n> (system error)" for a name it lacks. */
    const char *n = errname(err);
    put(": ");
    if (n[0] == 's') {
      put("E");
      putnum((unsigned long)err);
      put(" (system error)");
    } else {
      put(n);
    }
  }
  fail(code);
}
static void resolve_here(long pid, long pidfd) {
  /* ESRCH, or EINVAL for a number no PID can be: "Cannot find"; without pidfd_open (before
   * Linux 5.3) src/target.ts reads /proc alone, as below. */
  char path[64], buf[1024];
  /* pidfd_open pins only a thread group's leader: a thread's ID is ENOENT (Linux 6.9+) or
   * EINVAL (before, where it read as "Cannot find"). nsenter -t enters that thread's own
   * namespaces, which need not be its process's: refused in src/target.ts's words
   * (_refuseThread), naming the process, from the Tgid: line of /proc/TID/status. */
  if (pidfd == -ENOENT || pidfd == -EINVAL) {
    mlen = 0;
    put("/proc/");
    putnum((unsigned long)pid);
    put("/status");
    memcpy(path, msg, mlen);
    path[mlen] = 0;
    long fd = sys4(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC, 0);
    long n = fd < 0 ? fd : sys3(SYS_read, fd, buf, sizeof buf - 1);
    if (fd >= 0) sys1(SYS_close, fd);
    buf[n > 0 ? n : 0] = 0;
    for (long k = 0; k + 6 < n; k++) {
      if ((k && buf[k - 1] != '\n') || !starts(buf + k, "Tgid:")) continue;
      char *p = buf + k + 5;
      while (*p == '\t' || *p == ' ') p++;
      long tgid = parse_num(p, 10, 0);
      if (tgid > 0 && tgid != pid) {
        mlen = 0;
        put("nsjoin enter: Cannot pin process ");
        putnum((unsigned long)pid);
        put(": it is a thread of process ");
        putnum((unsigned long)tgid);
        put(" - give a process's PID (a thread may be in other namespaces than its process)");
        fail(125);
      }
      break;
    }
  }
  if (pidfd == -ESRCH || pidfd == -EINVAL) resolve_fail("Cannot find process ", pid, "", ESRCH, 125);
  if (pidfd < 0 && pidfd != -ENOSYS) resolve_fail("Cannot pin process ", pid, "", -pidfd, 125);
  mlen = 0;
  put("/proc/");
  putnum((unsigned long)pid);
  put("/stat");
  memcpy(path, msg, mlen);
  path[mlen] = 0;
  long fd = sys4(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC, 0);
  long n = fd < 0 ? fd : sys3(SYS_read, fd, buf, sizeof buf - 1);
  if (fd >= 0) sys1(SYS_close, fd);
  if (n == -ENOENT || n == -ENOTDIR || n == -ESRCH || n == 0)
    resolve_fail("Cannot find process ", pid, "", ESRCH, 125);
  if (n < 0) resolve_fail(fd < 0 ? "openat2 failed" : "read failed", 0, "", -n, 1);
  buf[n] = 0;
  /* comm (field 2) may hold anything: fields from the last ')', state is 3, flags 9. */
  char *p = 0;
  for (long k = 0; k < n; k++)
    if (buf[k] == ')') p = buf + k;
  if (!p || p + 2 >= buf + n) resolve_fail("Cannot find process ", pid, "", ESRCH, 125);
  char state = p[2];
  p += 2;
  for (int field = 3; field < 9 && *p; p++)
    if (*p == ' ') field++;
  unsigned long flags = (unsigned long)parse_num(p, 10, 0);
  if (state == 'Z' || state == 'X')
    resolve_fail("Cannot join process ", pid,
                 ": it has exited (a zombie) - its namespaces are gone with it", 0, 125);
  if (flags & 0x00200000 /* PF_KTHREAD */)
    resolve_fail("Cannot join process ", pid,
                 ": it is a kernel thread - kernel threads have no namespaces of their own", 0,
                 125);
}

static int sh_fallback; /* option n */

/* execvp(3) on ENOEXEC: "/bin/sh FILE ARG...", FILE the path the kernel refused. */
static long exec_sh(const char *file, char **argv, char **envp) {
  static char *sh_argv[1024];
  int n = 0;
  sh_argv[n++] = "/bin/sh";
  sh_argv[n++] = (char *)file;
  for (int i = 1; argv[i]; i++) {
    if (n >= 1023) return -E2BIG;
    sh_argv[n++] = argv[i];
  }
  sh_argv[n] = 0;
  return sys3(SYS_execve, "/bin/sh", sh_argv, envp);
}
/* p<PATH>: the caller's PATH, when the program is not looked up in the target's mount ns. */
static const char *lookup_path;

/* s<argv0>: the program's argv[0], instead of the path or name it is found by. */
static const char *arg0;

static __attribute__((noreturn)) void exec_program(char **argv, char **envp) {
  const char *prog = argv[0];
  if (arg0) argv[0] = (char *)arg0;
  long err = -ENOENT;
  int has_slash = 0;
  for (const char *s = prog; *s; s++)
    if (*s == '/') has_slash = 1;
  if (has_slash || !*prog) {
    err = *prog ? sys3(SYS_execve, prog, argv, envp) : -ENOENT;
    if (err == -ENOEXEC && sh_fallback) err = exec_sh(prog, argv, envp);
  } else {
    const char *path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    for (char **e = envp; *e && !lookup_path; e++)
      if (starts(*e, "PATH=")) path = *e + 5;
    if (lookup_path) path = lookup_path;
    char buf[4096];
    int seen_eacces = 0;
    size_t plen = slen(prog);
    for (const char *p = path;;) {
      const char *q = p;
      while (*q && *q != ':') q++;
      size_t dl = (size_t)(q - p);
      if (dl + plen + 2 < sizeof buf) {
        memcpy(buf, dl ? p : ".", dl ? dl : 1);
        if (!dl) dl = 1;
        buf[dl] = '/';
        memcpy(buf + dl + 1, prog, plen + 1);
        long r = sys3(SYS_execve, buf, argv, envp);
        if (r == -ENOEXEC && sh_fallback) r = exec_sh(buf, argv, envp);
        if (r == -EACCES) seen_eacces = 1;
        else if (r != -ENOENT && r != -ENOTDIR) {
          err = r;
          break;
        }
      }
      if (!*q) break;
      p = q + 1;
    }
    if (err == -ENOENT && seen_eacces) err = -EACCES;
  }
  begin();
  fail_step = "execve";
  put("Cannot run ");
  putesc(prog);
  if (err == -ENOENT) {
    last_errno = ENOENT;
    put(lookup_path ? ": not found" : ": not found in the target");
    fail(127);
  }
  puterr(err);
  /* The namespaces were joined; only the program could not start (as nsenter: 126). */
  fail(126);
}

static void close_fds(int *keep, int nkeep) {
  /* Sort the few kept fds so the ranges between them can be closed. */
  for (int i = 1; i < nkeep; i++)
    for (int j = i; j > 0 && keep[j - 1] > keep[j]; j--) {
      int t = keep[j];
      keep[j] = keep[j - 1];
      keep[j - 1] = t;
    }
  unsigned lo = 3;
  for (int i = 0; i <= nkeep; i++) {
    unsigned hi = i < nkeep ? (unsigned)keep[i] - 1 : ~0U;
    if (i < nkeep && (unsigned)keep[i] < lo) continue;
    if (hi >= lo && sys3(SYS_close_range, lo, hi, 0) != 0) {
      /* Before Linux 5.9: close one by one up to the fd limit. */
      unsigned long lim[2] = {1024, 1024};
      sys4(SYS_prlimit64, 0, RLIMIT_NOFILE, 0, lim);
      unsigned long top = hi < lim[0] ? hi : lim[0];
      for (unsigned long fd = lo; fd <= top; fd++) sys1(SYS_close, fd);
    }
    if (i < nkeep) lo = (unsigned)keep[i] + 1;
  }
}

static void write_all(int fd, const char *b, long n) {
  while (n > 0) {
    long w = sys3(SYS_write, fd, b, n);
    if (w == -EINTR || w == -EAGAIN) continue;
    if (w <= 0) return;
    b += w;
    n -= w;
  }
}

static void copy_winsize(int from, int to) {
  unsigned short ws[4];
  if (sys3(SYS_ioctl, from, TIOCGWINSZ, ws) == 0) sys3(SYS_ioctl, to, TIOCSWINSZ, ws);
}

/* Y: our own /proc/self/fd, opened before the first join (see start_c). */
static int proc_fds = -1;

/* Whether fd is the pty multiplexer, character device 5:2 (/dev's node or devpts' ptmx). */
static int is_ptmx(long fd) {
  unsigned char st[256];
  if (sys2(SYS_fstat, fd, st) != 0) return 0;
  /* st_mode after st_nlink on x86_64, before it in the generic layout; st_rdev after st_gid,
   * new_encode_dev'd (5:2 is 0x502). */
#if defined(__x86_64__)
  unsigned mode = *(unsigned *)(st + 24);
  unsigned long rdev = *(unsigned long *)(st + 40);
#else
  unsigned mode = *(unsigned *)(st + 16);
  unsigned long rdev = *(unsigned long *)(st + 32);
#endif
  return (mode & S_IFMT) == S_IFCHR && rdev == 0x502;
}

/* The pty comes from /dev/ptmx as the target's mount namespace has it (its devpts, as
 * docker exec -t does), or for debug from the session's own devpts (debug_mounts), so the
 * program's terminal has a name in its mount namespace (/dev/pts/0: tty, screen, sudo need
 * it). TIOCGPTPEER opens the peer without a path lookup. */
static void open_pty(const char *ptmx, int *master, int *slave) {
  /* /dev/ptmx is found in the target's tree, where its root may have put any device node
   * (mknod needs only CAP_MKNOD, which docker grants): opening it runs that driver's open as
   * us, outside the container's device cgroup (a /dev/watchdog under that name arms the
   * host's watchdog). So as open_checked: O_PATH first, which opens nothing; only the pty
   * multiplexer is then opened for real, that same inode, through our /proc/self/fd. */
  long p = sys4(SYS_openat, AT_FDCWD, ptmx, O_PATH | O_CLOEXEC, 0);
  long m = p;
  if (p >= 0 && is_ptmx(p)) {
    char n[24];
    mlen = 0;
    putnum((unsigned long)p);
    memcpy(n, msg, mlen);
    n[mlen] = 0;
    m = sys4(SYS_openat, proc_fds, n, O_RDWR | O_NOCTTY | O_CLOEXEC, 0);
  }
  if (p >= 0 && (m == p || (m >= 0 && !is_ptmx(m)))) {
    begin();
    fail_step = "open";
    last_errno = ENODEV;
    put("Cannot allocate a pseudo-terminal in the target: ");
    putesc(ptmx);
    put(" is not the pty multiplexer (character device 5:2)");
    fail(125);
  }
  if (p >= 0) sys1(SYS_close, p);
  int unlock = 0;
  long sl = m < 0 ? m : sys3(SYS_ioctl, m, TIOCSPTLCK, &unlock);
  if (sl == 0) sl = sys3(SYS_ioctl, m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (sl < 0) {
    begin();
    put("Cannot allocate a pseudo-terminal in the target");
    puterr(sl);
    fail(125);
  }
  copy_winsize(0, (int)m);
  *master = (int)m;
  *slave = (int)sl;
}

struct pollfd_ {
  int fd;
  short events, revents;
};

/* While a pty is relayed, our stdout's terminal must not post-process output: the pty
 * already turned "\n" into "\r\n" (its ONLCR), and a second pass printed "\r\r\n".
 * docker exec -it puts the client's terminal in raw mode (no OPOST) for the same reason.
 * struct termios: c_oflag is the second u32. Restored whenever we exit. */
static unsigned tio[16];
static int tio_saved;
static void raw_output(void) {
  if (sys3(SYS_ioctl, 1, TCGETS, tio) != 0 || !(tio[1] & OPOST)) return;
  unsigned raw[16];
  memcpy(raw, tio, sizeof raw);
  raw[1] &= ~(unsigned)OPOST;
  if (sys3(SYS_ioctl, 1, TCSETSW, raw) == 0) tio_saved = 1;
}
static void restore_tty(void) {
  if (tio_saved) sys3(SYS_ioctl, 1, TCSETSW, tio);
  tio_saved = 0;
}

/* g: signals go to the program's whole process group (it leads a new session). */
static int tree, own_session;
/* Y: the program runs on a pty of its own (set once, as the options are read). */
static int on_pty;
/* Set in the process whose child is the program itself (not a terminal relay's or a
 * cgroup intermediate's parent): only it turns SIGPWR into SIGKILL (see supervise). */
static int supervises_program;

/* The signals a supervising parent relays (see supervise). */
static unsigned long relay_set(void) {
  static const int relay[] = {1, 2, 3, 10, 12, 14, 15, 18, SIGWINCH, SIGPWR, SIGCHLD};
  unsigned long set = 0;
  for (unsigned k = 0; k < sizeof relay / sizeof relay[0]; k++) set |= 1UL << (relay[k] - 1);
  return set;
}

/* One fd over a unix socket (SCM_RIGHTS): struct msghdr and struct cmsghdr as the kernel
 * lays them out on 64-bit (cmsg_len a size_t, then level and type, then the data). */
struct iovec_ {
  void *base;
  size_t len;
};
struct msghdr_ {
  void *name;
  int namelen;
  struct iovec_ *iov;
  size_t iovlen;
  void *control;
  size_t controllen;
  unsigned flags;
};
static long pass_fd(int sock, int fd) {
  char byte = 'm';
  struct iovec_ iov = {&byte, 1};
  unsigned long control[3] = {20, 1 | (1UL << 32), (unsigned long)(unsigned)fd}; /* SOL_SOCKET, SCM_RIGHTS */
  struct msghdr_ m = {0, 0, &iov, 1, control, sizeof control, 0};
  return sys3(SYS_sendmsg, sock, &m, 0);
}

/* A pty whose master goes to the relay (over relay_sock, then closed here), with the read
 * end of report_pipe (see relay_report); returns the slave, the program's terminal. */
static int relay_pty(const char *ptmx, int relay_sock) {
  int master, slave, rp[2];
  open_pty(ptmx, &master, &slave);
  long r = pass_fd(relay_sock, master);
  if (r == 1) r = sys2(SYS_pipe2, rp, O_CLOEXEC);
  if (r == 0) {
    r = pass_fd(relay_sock, rp[0]);
    sys1(SYS_close, rp[0]);
    report_pipe = rp[1];
  }
  if (r != 1) {
    begin();
    put("Cannot hand the pseudo-terminal to the relay");
    puterr(r < 0 ? r : -EBADF);
    fail(125);
  }
  sys1(SYS_close, master);
  sys1(SYS_close, relay_sock);
  sys1(SYS_close, proc_fds);
  return slave;
}
/* The fd pass_fd sent (close-on-exec), or -1 when the sender closed without one. */
static int take_fd(int sock) {
  char byte;
  struct iovec_ iov = {&byte, 1};
  unsigned long control[3] = {0, 0, ~0UL};
  struct msghdr_ m = {0, 0, &iov, 1, control, sizeof control, 0};
  long r;
  do r = sys3(SYS_recvmsg, sock, &m, 0x40000000 /* MSG_CMSG_CLOEXEC */);
  while (r == -EINTR);
  if (r != 1 || m.controllen < 20 || control[0] != 20 || control[1] != (1 | (1UL << 32)))
    return -1;
  return (int)(unsigned)control[2];
}

/* The relay's end of relay_report: the failure line of the process that joins, or of the
 * program's before execve (one, then both exit). Whoever writes it is on the target's side
 * (a task there may take the pipe with pidfd_getfd): its bytes are text like the pty's,
 * so only the first line is printed, control bytes (C0, DEL, C1 as UTF-8) as '?'. */
static char note[512];
static size_t note_len;
static int read_note(int fd) {
  long n = sys3(SYS_read, fd, note + note_len, sizeof note - note_len);
  if (n > 0) note_len += (size_t)n;
  return n > 0 ? note_len < sizeof note : n == -EINTR || n == -EAGAIN;
}
static void print_note(void) {
  size_t n = 0;
  while (n < note_len && note[n] != '\n') {
    unsigned char c = (unsigned char)note[n];
    /* The C1 range as UTF-8 (CSI, OSC: xterm acts on them) as putesc sees it. */
    if (c == 0xc2 && n + 1 < note_len && (unsigned char)note[n + 1] >= 0x80 &&
        (unsigned char)note[n + 1] <= 0x9f)
      note[n++] = '?';
    else if (c < 0x20 || c == 0x7f) note[n] = '?';
    else {
      n++;
      continue;
    }
    note[n++] = '?';
  }
  if (n == 0) return;
  if (n == sizeof note) n--;
  note[n++] = '\n';
  sys3(SYS_write, 2, note, n);
}

/* The parent's side of a fork: relay signals to the child (and, with a pty, the caller's
 * stdin to it and its output to our stdout, and a failure line from report to our stderr)
 * until it exits; then exit as it did. */
static __attribute__((noreturn)) void supervise(long child, int master, int report,
                                                unsigned long *set) {
  long sfd = sys4(SYS_signalfd4, -1, set, 8, O_CLOEXEC | O_NONBLOCK);
  int in_open = master >= 0, out_open = master >= 0, note_open = report >= 0;
  /* Job control is the caller's shell's when the program is in our process group: not on a
   * pty (there it leads a session of its own, as docker exec -t's program), no g (the
   * library's process group of its own) and no t (a session of its own: exec's, as runc's). */
  int job_control = master < 0 && !on_pty && !tree && !own_session;
  if (master >= 0) raw_output();
  /* Only the child reports a failure from here on: our copy must not hold the pipe open. */
  if (errfd >= 0) sys1(SYS_close, errfd);
  errfd = -1;
  char buf[8192];
  for (;;) {
    struct pollfd_ pf[4] = {{(int)sfd, POLLIN, 0}, {in_open ? 0 : -1, POLLIN, 0},
                            {out_open ? master : -1, POLLIN, 0},
                            {note_open ? report : -1, POLLIN, 0}};
    long r = sys6(SYS_ppoll, (long)pf, 4, 0, 0, 8, 0);
    if (r < 0 && r != -EINTR) {
      begin();
      put("ppoll");
      puterr(r);
      fail(125);
    }
    if (pf[1].revents) {
      long n = sys3(SYS_read, 0, buf, sizeof buf);
      if (n > 0) {
        /* A resize of the caller's terminal made before these bytes were typed must reach
         * the program first (a user resizes, then types `stty size`). TIOCSWINSZ sets the
         * size before it returns (tty_do_resize), so the size read now is at least that one,
         * whether or not its SIGWINCH was handled yet (both may be pending at one wakeup);
         * an unchanged size is a no-op that signals no one. */
        if (master >= 0) copy_winsize(0, master);
        write_all(master, buf, n);
      } else if (n != -EINTR && n != -EAGAIN) in_open = 0;
    }
    if (pf[2].revents) {
      long n = sys3(SYS_read, master, buf, sizeof buf);
      if (n > 0) write_all(1, buf, n);
      else if (n != -EINTR && n != -EAGAIN) out_open = 0; /* EIO: no process has the pty */
    }
    if (pf[3].revents) note_open = read_note(report);
    if (!pf[0].revents) continue;
    unsigned int info[32]; /* struct signalfd_siginfo: ssi_signo first */
    while (sys3(SYS_read, sfd, info, sizeof info) == sizeof info) {
      int sig = (int)info[0];
      if (sig == SIGWINCH && master >= 0) {
        copy_winsize(0, master);
      } else if (sig != SIGCHLD) {
        /* SIGKILL cannot be relayed: sent to us, it ends us alone (the program dies with us,
         * see k, but not what it started). With g, the caller sends SIGPWR for it
         * (src/command.ts, NsCommand#spawn's kill): the whole group gets SIGKILL. A relay
         * or a cgroup intermediate passes SIGPWR on to the process that forks the program. */
        if (sig == SIGPWR && tree && supervises_program) sig = SIGKILL;
        /* Before the child's setsid there is no such group yet: then the child alone. */
        if (!tree || sys2(SYS_kill, -child, sig) == -ESRCH) sys2(SYS_kill, child, sig);
        continue;
      }
      if (sig != SIGCHLD) continue;
      int status = 0;
      if (sys4(SYS_wait4, child, &status, WNOHANG | (job_control ? WUNTRACED : 0), 0) != child)
        continue;
      /* The program stopped (SIGSTOP, or a SIGTSTP that less or vim raise on themselves after
       * a ^Z they read as a key): stop too, so that the shell that started us sees its job
       * stopped and `fg`/`bg` can send SIGCONT, which we pass on — as nsenter's
       * continue_as_child does. A stopped child is reported to its parent only with
       * WUNTRACED (kernel/exit.c: wait_task_stopped), and SIGSTOP stops us even while the
       * other signals are blocked; SIGCONT resumes us whatever our mask (prepare_signal). */
      if ((status & 0xff) == 0x7f) {
        sys2(SYS_kill, sys0(SYS_getpid), SIGSTOP);
        sys2(SYS_kill, child, SIGCONT);
        continue;
      }
      /* Drain what the program wrote before it exited (without waiting on any process
       * that still holds the pty). */
      while (out_open) {
        struct pollfd_ p = {master, POLLIN, 0};
        struct { long s, ns; } zero = {0, 0};
        if (sys6(SYS_ppoll, (long)&p, 1, (long)&zero, 0, 8, 0) <= 0) break;
        long n = sys3(SYS_read, master, buf, sizeof buf);
        if (n <= 0) break;
        write_all(1, buf, n);
      }
      while (note_open) {
        struct pollfd_ p = {report, POLLIN, 0};
        struct { long s, ns; } zero = {0, 0};
        if (sys6(SYS_ppoll, (long)&p, 1, (long)&zero, 0, 8, 0) <= 0) break;
        note_open = read_note(report);
      }
      restore_tty();
      print_note();
      if ((status & 0x7f) == 0) die_code((status >> 8) & 0xff);
      int s = status & 0x7f;
      unsigned long unblock = 1UL << (s - 1);
      sys4(SYS_rt_sigprocmask, 1 /* SIG_UNBLOCK */, &unblock, 0, 8);
      sys2(SYS_kill, sys0(SYS_getpid), s);
      die_code(128 + s);
    }
  }
}

/* The capability bounding set is dropped while we still have CAP_SETPCAP (before any
 * setuid); effective/permitted/inheritable are only ever narrowed, after it. */
static void drop_bounding(unsigned long keep) {
  for (int c = 0; c < 64; c++) {
    if (keep >> c & 1) continue;
    long r = sys2(SYS_prctl, PR_CAPBSET_DROP, c);
    if (r == -EINVAL) break; /* past the last capability this kernel has */
    if (r != 0) {
      begin();
      put("Cannot drop capability ");
      putnum((unsigned long)c);
      puterr(r);
      fail(125);
    }
  }
  sys6(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0, 0);
}

static void narrow_caps(unsigned long keep) {
  struct {
    unsigned version;
    int pid;
  } h = {0x20080522, 0};
  unsigned d[6];
  if (sys2(SYS_capget, &h, d) != 0) return;
  for (int k = 0; k < 3; k++) {
    d[k] &= (unsigned)keep;
    d[3 + k] &= (unsigned)(keep >> 32);
  }
  long r = sys2(SYS_capset, &h, d);
  if (r != 0) {
    begin();
    put("Cannot limit capabilities");
    puterr(r);
    fail(125);
  }
}

/* The terminal relay (Y) holds the caller's stdio and copies bytes the container writes into
 * the pty: it must hold no privilege it does not use. It reads and writes fds it already has
 * (or is handed over SCM_RIGHTS, which needs none), sets the pty's window size and signals the
 * process that joins. That process may change credentials (U, or an id of a joined user
 * namespace), and kill(2) then needs what kernel/signal.c kill_ok_by_cred asks: the sender's
 * real or effective uid equal to the target's real or saved uid, or CAP_KILL in the target's
 * user namespace (ours, the initial one, is its ancestor); pidfd_send_signal checks the same.
 * So CAP_KILL alone stays (effective, permitted, bounding set), no_new_privs is set, and the
 * uid is kept. Narrowing capabilities leaves dumpable at 0 and the parent-death signal armed:
 * commit_creds resets them only when the new set is not a subset of the old. */
static void relay_drop_privs(void) {
  /* Without CAP_SETPCAP (a caller holding no capabilities) the drop is refused: then the
   * bounding set guards nothing, since a no_new_privs process never gains what it lacks. */
  for (int c = 0; c < 64; c++)
    if (c != CAP_KILL && sys2(SYS_prctl, PR_CAPBSET_DROP, c) == -EINVAL) break;
  sys6(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0, 0);
  narrow_caps(1UL << CAP_KILL);
  sys6(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0, 0);
}

/* nsenter --keep-caps (util-linux cap_permitted_to_ambient): setns into a user namespace
 * gives every capability there, and execve as a non-root uid drops them; a capability that
 * is inheritable and ambient survives execve. Runs after setuid, as nsenter's does. */
static void caps_to_ambient(void) {
  struct {
    unsigned version;
    int pid;
  } h = {0x20080522, 0};
  unsigned d[6]; /* effective, permitted, inheritable; low 32 bits, then high */
  long r = sys2(SYS_capget, &h, d);
  if (r == 0) {
    d[2] = d[1];
    d[5] = d[4];
    r = sys2(SYS_capset, &h, d);
  }
  for (int c = 0; r == 0 && c < 64; c++) {
    if (!((c < 32 ? d[0] : d[3]) >> (c & 31) & 1)) continue;
    r = sys6(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0, 0);
  }
  if (r != 0) {
    begin();
    put("Cannot keep capabilities");
    puterr(r);
    fail(125);
  }
}

#define MS_RDONLY 1
#define MS_BIND 4096
#define MS_REC 16384
#define MS_SLAVE (1 << 19)
#define MNT_DETACH 2
#define ST_RDONLY 1

static void mount_or_die(const char *what, long r) {
  if (r == 0) return;
  begin();
  put("Cannot set up the named netns: ");
  put(what);
  puterr(r);
  fail(125);
}

/* iproute2's netns_switch(), after the net namespace is joined: sysfs shows the devices of
 * the net namespace of whoever mounts it, so /sys is mounted again in a mount namespace of
 * our own (slave, so nothing propagates back to the host). */
static void netns_mounts(const char *name) {
  mount_or_die("unshare(CLONE_NEWNS)", sys1(SYS_unshare, CLONE_NEWNS));
  mount_or_die("mount --make-rslave /", sys6(SYS_mount, 0, (long)"/", 0, MS_SLAVE | MS_REC, 0, 0));
  unsigned long st[16] = {0}; /* struct statfs (asm-generic, 64-bit): f_flags is word 10 */
  long flags = 0;
  if (sys2(SYS_statfs, "/sys", st) == 0 && (st[10] & ST_RDONLY)) flags = MS_RDONLY;
  long r = sys2(SYS_umount2, "/sys", MNT_DETACH);
  if (r != 0 && r != -EINVAL) mount_or_die("umount /sys", r);
  mount_or_die("mount sysfs on /sys", sys6(SYS_mount, (long)name, (long)"/sys", (long)"sysfs", flags, 0, 0));
  char dir[300], src[600], dst[600];
  mlen = 0;
  put("/etc/netns/");
  put(name);
  if (mlen >= sizeof dir) return;
  memcpy(dir, msg, mlen);
  dir[mlen] = 0;
  long fd = sys4(SYS_openat, AT_FDCWD, dir, O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0) return; /* no /etc/netns/NAME: nothing to bind, as ip netns */
  char buf[4096];
  for (;;) {
    long n = sys3(SYS_getdents64, fd, buf, sizeof buf);
    if (n <= 0) break;
    for (long off = 0; off < n;) {
      /* struct linux_dirent64: u64 ino, s64 off, u16 reclen, u8 type, char name[] */
      unsigned short reclen = *(unsigned short *)(buf + off + 16);
      const char *e = buf + off + 19;
      off += reclen;
      if (e[0] == '.' && (!e[1] || (e[1] == '.' && !e[2]))) continue;
      mlen = 0;
      put(dir);
      put("/");
      put(e);
      memcpy(src, msg, mlen);
      src[mlen] = 0;
      mlen = 0;
      put("/etc/");
      put(e);
      memcpy(dst, msg, mlen);
      dst[mlen] = 0;
      long b = sys6(SYS_mount, (long)src, (long)dst, 0, MS_BIND, 0, 0);
      if (b != 0) {
        begin();
        put("Cannot bind ");
        put(src);
        put(" over ");
        put(dst);
        puterr(b);
        fail(125);
      }
    }
  }
  sys1(SYS_close, fd);
}

/* T<dir>: the debug session. Kernel rules it is built on:
 * - open_tree(OPEN_TREE_CLONE) copies only mounts of the caller's own mount namespace
 *   (may_copy_tree: EINVAL otherwise), and a mount namespace is entered only with
 *   CAP_SYS_ADMIN over its owner. So every copy is made before anything is joined, as the
 *   caller (host root): the tools in the host's namespace, the target's root after a setns
 *   into its mount namespace and back. The copies are detached trees (anonymous mount
 *   namespaces) that move_mount attaches later, also into a namespace owned by the
 *   target's user namespace.
 * - unshare(CLONE_NEWNS) needs CAP_SYS_ADMIN over the current user namespace: after the
 *   target's user namespace is joined it is owned by that one (rootless containers), and
 *   the host's mounts copied into it are locked (MNT_LOCKED), which only forbids revealing
 *   what they cover.
 * - proc shows the pid namespace of whoever mounts it unless its pidns= option names one
 *   (debug_proc), so it is mounted before the fork, from outside the target's pid namespace;
 *   sysfs shows the net namespace of whoever mounts it. In a user namespace both are refused
 *   unless an unhidden instance is already in the mount namespace (mount_too_revealing, for
 *   fsmount too): the host's is, until the old root is detached at the end.
 * - pivot_root + detaching the old root, not chroot: the program keeps the container's
 *   CAP_SYS_CHROOT, which escapes a chroot; no host mount is left in the namespace at all.
 * What the program sees of the host is read-only, nosuid, nodev: a process of the container
 * (same uid, ptrace or /proc/PID/root of the program) can read it, never change it. */
#define OPEN_TREE_CLONE 1
#define AT_RECURSIVE 0x8000
#define AT_SYMLINK_NOFOLLOW 0x100
#define AT_EMPTY_PATH 0x1000
#define MOVE_MOUNT_F_EMPTY_PATH 4
#define MOUNT_ATTR_RDONLY 1
#define MOUNT_ATTR_NOSUID 2
#define MOUNT_ATTR_NODEV 4
#define MOUNT_ATTR_NOEXEC 8
#define FSOPEN_CLOEXEC 1
#define FSMOUNT_CLOEXEC 1
#define FSCONFIG_SET_FD 5
#define FSCONFIG_CMD_CREATE 6
#define MS_NOSUID 2
#define MS_NODEV 4
#define MS_NOEXEC 8
#define MS_REMOUNT 32
#define MS_PRIVATE (1 << 18)
#define O_CREAT 0100
#define MAXD 48
#define CLONE_FILES 0x400
#define PROT_READ_WRITE 3
#define MAP_SHARED_ANONYMOUS 0x21

static struct {
  const char *name; /* path in the new root */
  int fd;           /* detached copy, or -1 */
  int dir;
  char link[256];   /* a symlink recreated instead (/bin -> usr/bin) */
} dbg[MAXD];
static int ndbg;
static __attribute__((noreturn)) void too_many(int n, const char *what);

static __attribute__((noreturn)) void debug_fail(const char *what, const char *path, long err) {
  begin();
  put("Cannot set up the debug session: ");
  put(what);
  if (path) {
    put(" ");
    putesc(path);
  }
  puterr(err);
  fail(125);
}

/* A detached copy of path (relative to dirfd), made read-only/nosuid/nodev with attr. */
static void debug_copy(int dirfd, const char *path, const char *name, unsigned long attr,
                       int optional) {
  if (ndbg >= MAXD) too_many(MAXD, "debug mounts");
  dbg[ndbg].name = name;
  dbg[ndbg].fd = -1;
  long n = sys4(SYS_readlinkat, dirfd, path, dbg[ndbg].link, sizeof dbg[ndbg].link - 1);
  if (n >= 0) {
    dbg[ndbg].link[n] = 0;
    ndbg++;
    return;
  }
  long fd = sys3(SYS_open_tree, dirfd, path,
                 OPEN_TREE_CLONE | O_CLOEXEC | AT_RECURSIVE | AT_SYMLINK_NOFOLLOW |
                   (path[0] ? 0 : AT_EMPTY_PATH));
  if (fd == -ENOENT && optional) return;
  if (fd < 0) debug_fail("copy", path[0] ? path : name, fd);
  unsigned long ma[4] = {attr, 0, 0, 0}; /* struct mount_attr: set, clr, propagation, userns */
  long r = sys6(SYS_mount_setattr, fd, (long)"", AT_EMPTY_PATH | AT_RECURSIVE, (long)ma,
                sizeof ma, 0);
  if (r != 0) debug_fail("make read-only", name, r);
  /* A directory opens with O_DIRECTORY, anything else refuses it. */
  long d = sys4(SYS_openat, fd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
  dbg[ndbg].dir = d >= 0;
  if (d >= 0) sys1(SYS_close, d);
  dbg[ndbg].fd = (int)fd;
  ndbg++;
}

/* Locks the read-only copies (tools, /etc files, devices): no one may make them writable
 * again, root of the initial user namespace included. A rootful container given
 * CAP_SYS_ADMIN entered the program's mount namespace (nsenter -m: same uid, dumpable after
 * execve), remounted /usr read-write and wrote into the host's tools (stop 25). Kernel rules:
 * mounts copied into a mount namespace owned by a new user namespace get MNT_LOCK_READONLY,
 * _NOSUID and _NODEV (fs/namespace.c lock_mnt_tree); every clone of them keeps those flags
 * (clone_mnt copies mnt_flags) wherever it is moved, and remount and mount_setattr refuse to
 * clear a locked flag (EPERM) whatever the caller's capabilities. open_tree may clone a
 * detached copy made in the caller's own mount namespace (check_anonymous_mnt, Linux 6.15).
 * So a child of ours, before any join and sharing our fd table (CLONE_FILES), clones the
 * copies, attaches them in a private mount namespace of its own, unshares a user and a mount
 * namespace (which copies and locks them), clones them from there and hands those fds over
 * through a shared page. Best effort: where that fails (no user namespaces, an older kernel)
 * the copies stay read-only, not locked. */
static void debug_lock(void) {
  struct locked {
    int done;
    int fd[MAXD];
  } *sh = (struct locked *)sys6(SYS_mmap, 0, sizeof *sh, PROT_READ_WRITE, MAP_SHARED_ANONYMOUS,
                                -1, 0);
  if ((unsigned long)sh > -4096UL) return;
  long self = sys6(SYS_getpid, 0, 0, 0, 0, 0, 0);
  long child = sys6(SYS_clone, CLONE_FILES | SIGCHLD, 0, 0, 0, 0, 0);
  if (child == 0) {
    sys2(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL);
    if (sys6(SYS_getppid, 0, 0, 0, 0, 0, 0) != self) sys1(SYS_exit_group, 1);
    int mine[MAXD];
    char name[MAXD][16];
    for (int k = 0; k < ndbg; k++) {
      mine[k] = -1;
      if (dbg[k].fd < 0) continue;
      mine[k] = (int)sys3(SYS_open_tree, dbg[k].fd, "",
                          OPEN_TREE_CLONE | O_CLOEXEC | AT_RECURSIVE | AT_EMPTY_PATH);
      if (mine[k] < 0) sys1(SYS_exit_group, 1);
    }
    if (sys1(SYS_unshare, CLONE_NEWNS) != 0 ||
        sys6(SYS_mount, 0, (long)"/", 0, MS_REC | MS_PRIVATE, 0, 0) != 0 ||
        sys6(SYS_mount, (long)"tmpfs", (long)"/tmp", (long)"tmpfs", MS_NOSUID | MS_NODEV,
             (long)"mode=0700", 0) != 0)
      sys1(SYS_exit_group, 1);
    for (int k = 0; k < ndbg; k++) {
      if (mine[k] < 0) continue;
      mlen = 0;
      put("/tmp/");
      putnum((unsigned long)k);
      memcpy(name[k], msg, mlen);
      name[k][mlen] = 0;
      long r = dbg[k].dir ? sys3(SYS_mkdirat, AT_FDCWD, name[k], 0700)
                          : sys4(SYS_openat, AT_FDCWD, name[k], O_CREAT | O_WRONLY | O_CLOEXEC,
                                 0600);
      if (r < 0) sys1(SYS_exit_group, 1);
      if (!dbg[k].dir) sys1(SYS_close, r);
      r = sys6(SYS_move_mount, mine[k], (long)"", AT_FDCWD, (long)name[k],
               MOVE_MOUNT_F_EMPTY_PATH, 0);
      sys1(SYS_close, mine[k]);
      if (r != 0) sys1(SYS_exit_group, 1);
    }
    if (sys1(SYS_unshare, CLONE_NEWUSER | CLONE_NEWNS) != 0) sys1(SYS_exit_group, 1);
    for (int k = 0; k < ndbg; k++) {
      sh->fd[k] = -1;
      if (mine[k] < 0) continue;
      long fd = sys3(SYS_open_tree, AT_FDCWD, name[k], OPEN_TREE_CLONE | O_CLOEXEC | AT_RECURSIVE);
      if (fd < 0) sys1(SYS_exit_group, 1);
      sh->fd[k] = (int)fd;
    }
    sh->done = 1;
    sys1(SYS_exit_group, 0);
  }
  int status = 0;
  if (child > 0) sys4(SYS_wait4, child, &status, 0, 0);
  if (!sh->done) {
    /* The copies stay read-only, unlocked: say so, once, before anything runs (stop 26). */
    begin();
    put("note: the host's tools are read-only but not locked (that needs Linux 6.15 and user"
        " namespaces): a container with CAP_SYS_ADMIN could make them writable\n");
    sys3(SYS_write, 2, msg, mlen);
  }
  for (int k = 0; k < ndbg; k++) {
    if (dbg[k].fd < 0) continue;
    if (sh->done) {
      sys1(SYS_close, dbg[k].fd);
      dbg[k].fd = sh->fd[k];
    } else if (child > 0 && sh->fd[k] > 0) {
      sys1(SYS_close, sh->fd[k]); /* made before the child failed */
    }
  }
  sys2(SYS_munmap, (long)sh, sizeof *sh);
}

/* Before any join, as the caller. */
static void debug_prepare(const char *tools, long pid) {
  static const char *top[] = {"usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32"};
  /* What host tools read from /etc: the loader's cache, names of users and groups, the
   * alternatives' links (Debian's awk, editor...), terminal and shell setup. */
  static const char *etc[] = {"ld.so.cache", "ld.so.conf", "ld.so.conf.d", "alternatives",
                              "passwd", "group", "nsswitch.conf", "terminfo", "localtime",
                              "profile", "bash.bashrc", "inputrc", "services", "protocols",
                              "iproute2", "ethertypes"};
  /* Not the host's /dev/pts: it holds every host terminal (a container's root, through
   * /proc/PID/root of the program, could read and type into them); the session gets a
   * devpts instance of its own (debug_mounts). */
  static const char *dev[] = {"null", "zero", "full", "random", "urandom", "tty"};
  static char paths[32][32];
  const unsigned long ro = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
  int tfd = open_or_die(tools, O_PATH | O_DIRECTORY, "tools directory");
  for (unsigned k = 0; k < sizeof top / sizeof *top; k++) debug_copy(tfd, top[k], top[k], ro, 1);
  for (unsigned k = 0; k < sizeof etc / sizeof *etc; k++) {
    mlen = 0;
    put("etc/");
    put(etc[k]);
    memcpy(paths[k], msg, mlen + 1);
    paths[k][mlen] = 0;
    debug_copy(tfd, paths[k], paths[k], ro, 1);
  }
  sys1(SYS_close, tfd);
  /* The host's devices, never the target's (its /dev/null could be a FIFO or a file).
   * Read-only too: a device node is still written through a read-only mount, but its inode
   * (the host's /dev/null) can no longer be chmod-ed, chown-ed or touched. */
  int dfd = open_or_die("/dev", O_PATH | O_DIRECTORY, "/dev");
  for (unsigned k = 0; k < sizeof dev / sizeof *dev; k++) {
    mlen = 0;
    put("dev/");
    put(dev[k]);
    memcpy(paths[16 + k], msg, mlen + 1);
    paths[16 + k][mlen] = 0;
    debug_copy(dfd, dev[k], paths[16 + k], MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID, 1);
  }
  sys1(SYS_close, dfd);
  debug_lock();
  /* The target's root: its /proc/PID/root entered through its own mount namespace. */
  char path[64];
  mlen = 0;
  put("/proc/");
  putnum((unsigned long)pid);
  memcpy(path, msg, mlen);
  path[mlen] = 0;
  int proc = open_or_die(path, O_PATH | O_DIRECTORY, "the target's /proc directory");
  int rootfd = (int)sys4(SYS_openat, proc, "root", O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
  int mntfd = (int)sys4(SYS_openat, proc, "ns/mnt", O_RDONLY | O_CLOEXEC, 0);
  int ours = open_or_die("/proc/self/ns/mnt", O_RDONLY, "our mount namespace");
  if (rootfd < 0) debug_fail("open the target's root", 0, rootfd);
  if (mntfd < 0) debug_fail("open the target's mount namespace", 0, mntfd);
  long r = sys2(SYS_setns, mntfd, CLONE_NEWNS);
  if (r != 0) debug_fail("enter the target's mount namespace", 0, r);
  debug_copy(rootfd, "", "target", MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, 0);
  r = sys2(SYS_setns, ours, CLONE_NEWNS);
  if (r != 0) debug_fail("return to our mount namespace", 0, r);
  sys1(SYS_close, rootfd);
  sys1(SYS_close, mntfd);
  sys1(SYS_close, ours);
  sys1(SYS_close, proc);
}

/* proc shows the pid namespace of whoever mounts it, unless its pidns= option names another
 * (Linux 6.18; the caller needs CAP_SYS_ADMIN over that namespace's owner, and it must be
 * ours or a descendant). We mount it from outside the target's pid namespace: nothing
 * privileged is ever born in there, so there is no fallback to a mount made by a child. */
static void debug_proc(int pidns) {
  long fs = sys2(SYS_fsopen, "proc", FSOPEN_CLOEXEC);
  if (fs < 0) debug_fail("open a proc file system", 0, fs);
  long r = sys6(SYS_fsconfig, fs, FSCONFIG_SET_FD, (long)"pidns", 0, pidns, 0);
  if (r == -EINVAL) {
    begin();
    last_errno = EINVAL;
    put("Cannot set up the debug session: /proc of the target's pid namespace needs Linux"
        " 6.18 (procfs pidns=)");
    fail(125);
  }
  if (r == 0) r = sys6(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, 0, 0, 0, 0);
  long m = r != 0 ? r
                  : sys3(SYS_fsmount, fs, FSMOUNT_CLOEXEC,
                         MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
                           MOUNT_ATTR_NOEXEC);
  if (m < 0) debug_fail("mount /proc of the target's pid namespace", 0, m);
  sys1(SYS_close, fs);
  r = sys6(SYS_move_mount, m, (long)"", AT_FDCWD, (long)"proc", MOVE_MOUNT_F_EMPTY_PATH, 0);
  if (r != 0) debug_fail("mount", "proc", r);
  sys1(SYS_close, m);
}

static void debug_mkdir(const char *name, int mode) {
  long r = sys3(SYS_mkdirat, AT_FDCWD, name, mode);
  if (r != 0) debug_fail("make directory", name, r);
}

/* runc's default masked paths (docker's MaskedPaths), in the fresh proc and sysfs: a
 * container's processes read them through /proc/PID/root of the program (same uid and
 * capabilities: ptrace access), where its own /proc and /sys hide them — other host tasks'
 * timers and names (timer_list), the firmware's tables and the physical memory map, the
 * RAPL energy counters (powercap, CVE-2020-8694). As runc masks them: a file under the
 * session's /dev/null (the host's, read-only), a directory under an empty read-only tmpfs.
 * Mounting over them needs no write access to the read-only proc and sysfs; only
 * CAP_SYS_ADMIN over the namespace's owner undoes it (a container's root has it only when
 * its own user namespace owns the namespace: a rootless one, whose root may mount a proc and
 * sysfs of its own namespaces there anyway). */
static void debug_mask(void) {
  static const char *masked[] = {
    "proc/asound", "proc/acpi", "proc/kcore", "proc/keys", "proc/latency_stats",
    "proc/timer_list", "proc/timer_stats", "proc/sched_debug", "proc/scsi", "sys/firmware",
    "sys/devices/virtual/powercap"};
  for (unsigned k = 0; k < sizeof masked / sizeof *masked; k++) {
    const char *p = masked[k];
    long d = sys4(SYS_openat, AT_FDCWD, p, O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
    long r;
    if (d >= 0) {
      sys1(SYS_close, d);
      r = sys6(SYS_mount, (long)"tmpfs", (long)p, (long)"tmpfs",
               MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, (long)"size=0,mode=0555", 0);
    } else if (d == -ENOTDIR) {
      r = sys6(SYS_mount, (long)"dev/null", (long)p, 0, MS_BIND, 0, 0);
    } else if (d == -ENOENT) {
      continue;
    } else {
      r = d;
    }
    if (r != 0) debug_fail("mask", p, r);
  }
}

/* After the joins, before the fork (in this process, outside the target's pid namespace):
 * the program's own mount namespace. */
static void debug_mounts(void) {
  /* The pid namespace our children are born in: the target's when its pid namespace was
   * joined (proc is mounted for it below). Still the caller's /proc here. */
  int pidns = open_or_die("/proc/self/ns/pid_for_children", O_RDONLY, "our pid namespace");
  long r = sys1(SYS_unshare, CLONE_NEWNS);
  if (r != 0) debug_fail("unshare the mount namespace", 0, r);
  /* Nothing of ours propagates to the host's mounts, nothing of theirs to ours. */
  r = sys6(SYS_mount, 0, (long)"/", 0, MS_REC | MS_PRIVATE, 0, 0);
  if (r != 0) debug_fail("make the mounts private", 0, r);
  /* The new root is a tmpfs over the host's /tmp (hidden in this namespace only; its
   * content was not copied). */
  /* A filesystem mounted in a user namespace refuses to create files for ids it cannot map
   * (EOVERFLOW), and we are still the host's root: create them as uid/gid 0 of the joined
   * user namespace (setuid below sets the filesystem ids again). */
  sys1(SYS_setfsuid, 0);
  sys1(SYS_setfsgid, 0);
  r = sys6(SYS_mount, (long)"tmpfs", (long)"/tmp", (long)"tmpfs", MS_NOSUID | MS_NODEV,
           (long)"mode=0755", 0);
  if (r != 0) debug_fail("mount a tmpfs on", "/tmp", r);
  r = sys1(SYS_chdir, "/tmp");
  if (r != 0) debug_fail("enter the new root", 0, r);
  static const char *dirs[] = {"etc", "dev", "proc", "sys", "tmp", "root", "target"};
  for (unsigned k = 0; k < sizeof dirs / sizeof *dirs; k++) debug_mkdir(dirs[k], 0755);
  for (int k = 0; k < ndbg; k++) {
    const char *name = dbg[k].name;
    if (dbg[k].fd < 0) {
      r = sys3(SYS_symlinkat, dbg[k].link, AT_FDCWD, name);
      if (r != 0) debug_fail("make symlink", name, r);
      continue;
    }
    if (dbg[k].dir && !(starts(name, "target") && !name[6])) debug_mkdir(name, 0755);
    if (!dbg[k].dir) {
      long f = sys4(SYS_openat, AT_FDCWD, name, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
      if (f < 0) debug_fail("make mount point", name, f);
      sys1(SYS_close, f);
    }
    r = sys6(SYS_move_mount, dbg[k].fd, (long)"", AT_FDCWD, (long)name,
             MOVE_MOUNT_F_EMPTY_PATH, 0);
    if (r != 0) debug_fail("mount", name, r);
    sys1(SYS_close, dbg[k].fd);
  }
  r = sys6(SYS_mount, (long)"tmpfs", (long)"tmp", (long)"tmpfs", MS_NOSUID | MS_NODEV,
           (long)"mode=1777", 0);
  if (r != 0) debug_fail("mount a tmpfs on", "/tmp", r);
  /* A fresh proc has none of the runtime's read-only /proc/sys or masked files, and the
   * container's root reaches it through /proc/PID/root of the program: read-only, or a
   * rootful container's root writes kernel.core_pattern (host code execution). Opening a
   * proc file for writing on a read-only mount is EROFS (do_dentry_open's mnt_want_write);
   * nothing below writes to /proc. */
  debug_proc(pidns);
  sys1(SYS_close, pidns);
  /* A devpts of the session's own: ptys made in it are the program's, none of the host's. */
  debug_mkdir("dev/pts", 0755);
  r = sys6(SYS_mount, (long)"devpts", (long)"dev/pts", (long)"devpts", MS_NOSUID | MS_NOEXEC,
           (long)"newinstance,ptmxmode=0666,mode=0620", 0);
  if (r != 0) debug_fail("mount a devpts on", "/dev/pts", r);
  r = sys3(SYS_symlinkat, "pts/ptmx", AT_FDCWD, "dev/ptmx");
  if (r != 0) debug_fail("make symlink", "dev/ptmx", r);
  /* Best effort: ip, ss and ps do not need /sys. */
  sys6(SYS_mount, (long)"sysfs", (long)"sys", (long)"sysfs",
       MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, 0, 0);
  debug_mask();
  /* pivot_root(".", "."): the old root ends up stacked on the new one, then detached. */
  r = sys2(SYS_pivot_root, ".", ".");
  if (r != 0) debug_fail("pivot_root", 0, r);
  r = sys2(SYS_umount2, ".", MNT_DETACH);
  if (r != 0) debug_fail("detach the host's root", 0, r);
  sys1(SYS_chdir, "/");
  r = sys6(SYS_mount, 0, (long)"/", 0, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV,
           0, 0);
  if (r != 0) debug_fail("make the new root read-only", 0, r);
}

/* Confinement copied from the target, as runc exec applies the container's (z l o m a). */
#define PTRACE_DETACH 17
#define PTRACE_SEIZE 0x4206
#define PTRACE_INTERRUPT 0x4207
#define PTRACE_SECCOMP_GET_FILTER 0x420c
#define PTRACE_SECCOMP_GET_METADATA 0x420d
#define WALL 0x40000000
#define SECCOMP_SET_MODE_FILTER 1
#define SECCOMP_FILTER_FLAG_LOG 2
#define SECCOMP_RET_ACTION_FULL 0xffff0000U
#define SECCOMP_RET_USER_NOTIF 0x7fc00000U
#define SECCOMP_RET_ERRNO 0x00050000U
#define BPF_RET_K 0x06
#define PR_CAPBSET_READ 23
#define PR_CAP_AMBIENT_IS_SET 1
#define RLIM_NLIMITS 16

struct sock_filter_ {
  unsigned short code;
  unsigned char jt, jf;
  unsigned k;
};
/* The kernel caps the instructions of all filters of a task together at 32768
 * (MAX_INSNS_PER_PATH, counting 4 more per filter): this holds any task's. */
#define MAXI 32768
#define MAXF 256
static struct sock_filter_ insns[MAXI];
static struct {
  unsigned long off, len, flags;
} filters[MAXF];
static int nfilters;
static long last_cap = -1;

static int eqn(const char *a, const char *b, size_t n);
/* ptrace_read's words for a target in state D (compared by address: the reading child is a
 * fork of ours, its literals where ours are). */
static const char in_d_state[] =
    "it did not stop for ptrace within 2 s: it is in an uninterruptible wait (state D), such as"
    " a vfork() whose child has not exec'd; retry once it ends";
static __attribute__((noreturn)) void seccomp_fail(const char *what, long err) {
  fail_step = "seccomp";
  begin();
  put("Cannot copy the seccomp filter of pid ");
  putnum((unsigned long)target_pid);
  put(": ");
  put(what);
  if (err) puterr(err);
  if (err == -EPERM || err == -EACCES || what == in_d_state) {
    if (what == in_d_state)
      put(", or opt out (");
    else
      put(" - reading it needs root (CAP_SYS_ADMIN), no seccomp filter on the caller and a"
          " target no one else traces; run as root, or opt out (");
    /* The opt-out of who asked (h<name>): it named exec's flag to debug and the library too. */
    if (who_len == 11 && eqn(who, "nsjoin exec", 11))
      put("exec --security-opt seccomp=unconfined)");
    else if (who_len == 12 && eqn(who, "nsjoin debug", 12))
      put("debug --privileged, which leaves out all of the confinement)");
    else
      put("seccomp: \"none\")");
  }
  fail(125);
}

/* Options Z and x: fds of the caller's memfds, or -1. */
static int filters_in = -1, filters_out = -1;
#if defined(__x86_64__)
#define SYS_pread64 17
#else
#define SYS_pread64 67
#endif

/* What a failed ptrace_read says, for its parent to fail with (seccomp_fail). */
static const char *read_what;
static long read_err;
static int read_failed(const char *what, long err) {
  read_what = what;
  read_err = err;
  return -1;
}

/* Reads the target's filters with ptrace, as CRIU does: PTRACE_SECCOMP_GET_FILTER wants a
 * stopped tracee, so seize and interrupt it, then detach (which resumes it; a syscall it
 * was in restarts). Run in a child of ours (ptrace_filters), single-threaded and with no
 * child of its own, so the stop is its to wait for. Index 0 is the newest filter. Returns 0,
 * or -1 with read_what and read_err set. */
static int ptrace_read(void) {
  long pid = target_pid;
  long r = sys4(SYS_ptrace, PTRACE_SEIZE, pid, 0, 0);
  if (r != 0) return read_failed("ptrace", r);
  unsigned long chld = 1UL << (SIGCHLD - 1); /* blocked by ptrace_filters */
  r = sys4(SYS_ptrace, PTRACE_INTERRUPT, pid, 0, 0);
  int status = 0;
  while (r == 0) {
    r = sys4(SYS_wait4, pid, &status, WALL | WNOHANG, 0);
    if (r == pid) {
      if ((status & 0xff) != 0x7f) return read_failed("the target exited", 0);
      r = 0;
      break;
    }
    if (r < 0) break;
    /* The tracer hears of the stop by SIGCHLD; a frozen (paused) target never stops. */
    struct { long s, ns; } wait = {2, 0};
    r = sys4(SYS_rt_sigtimedwait, &chld, 0, &wait, 8);
    /* A task in an uninterruptible wait (state D) stops only once the wait ends: a vfork()
     * parent until its child calls execve or exits (`sh -c 'cmd &'` of some shells, a
     * posix_spawn), a read of a hung NFS server. Docker exec needs no stop (runc has the
     * profile), so "paused?" sent users looking for a pause that was not there. */
    if (r == -EAGAIN)
      return read_failed(stat_state(pid) == 'D'
                             ? in_d_state
                             : "it did not stop for ptrace within 2 s (is it paused?)",
                         0);
    r = r > 0 || r == -EINTR ? 0 : r;
  }
  if (r != 0) return read_failed("ptrace", r);
  unsigned long used = 0;
  for (int i = 0;; i++) {
    long n = sys4(SYS_ptrace, PTRACE_SECCOMP_GET_FILTER, pid, i, 0);
    if (n == -ENOENT) break;
    if (n <= 0) return read_failed("PTRACE_SECCOMP_GET_FILTER", n < 0 ? n : -EINVAL);
    if (i >= MAXF || used + (unsigned long)n > MAXI) return read_failed("too many filters", 0);
    struct { unsigned long off, flags; } md = {(unsigned long)i, 0};
    r = sys4(SYS_ptrace, PTRACE_SECCOMP_GET_METADATA, pid, sizeof md, &md);
    long got = sys4(SYS_ptrace, PTRACE_SECCOMP_GET_FILTER, pid, i, insns + used);
    if (got != n) return read_failed("PTRACE_SECCOMP_GET_FILTER", got < 0 ? got : -EINVAL);
    filters[i].off = used;
    filters[i].len = (unsigned long)n;
    filters[i].flags = r > 0 ? md.flags & SECCOMP_FILTER_FLAG_LOG : 0; /* r: bytes copied */
    used += (unsigned long)n;
    nfilters = i + 1;
  }
  sys4(SYS_ptrace, PTRACE_DETACH, pid, 0, 0);
  return 0;
}

/* ptrace_read, made by a child of ours within a deadline. PTRACE_SEIZE waits, interruptibly
 * but restarted after any handled signal (ERESTARTNOINTR), for the target's cred_guard_mutex,
 * which an execve holds until it ends; any user can make their own process's execve never end
 * (a thread that asked to be traced by a parent that never reaps it: de_thread waits for that
 * zombie; selftests/ptrace/vmaccess.c), and root's exec of it waited in ptrace_attach for ever.
 * Only a fatal signal ends that wait, so the child makes it and we kill the child at the
 * deadline. It writes what it read into a mapping we share; dying with us (PDEATHSIG), it
 * never stays waiting, and its exit detaches it from the target. */
#define PTRACE_DEADLINE_S 5
static void ptrace_filters(void) {
  struct shared {
    const char *what;
    long err;
    int ok, n;
    unsigned long used;
    __typeof__(filters) f;
    struct sock_filter_ i[MAXI];
  } *sh = (struct shared *)sys6(SYS_mmap, 0, sizeof *sh, PROT_READ_WRITE, MAP_SHARED_ANONYMOUS,
                                -1, 0);
  if ((unsigned long)sh > -4096UL) seccomp_fail("mmap", (long)sh);
  unsigned long chld = 1UL << (SIGCHLD - 1), old = 0;
  sys4(SYS_rt_sigprocmask, SIG_BLOCK, &chld, &old, 8);
  long self = sys6(SYS_getpid, 0, 0, 0, 0, 0, 0);
  long child = sys6(SYS_clone, SIGCHLD, 0, 0, 0, 0, 0);
  if (child < 0) seccomp_fail("fork", child);
  if (child == 0) {
    sys2(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL);
    if (sys6(SYS_getppid, 0, 0, 0, 0, 0, 0) != self) sys1(SYS_exit_group, 0); /* it died first */
    if (ptrace_read() == 0) {
      sh->n = nfilters;
      sh->used = nfilters ? filters[nfilters - 1].off + filters[nfilters - 1].len : 0;
      memcpy(sh->f, filters, sizeof filters);
      memcpy(sh->i, insns, sh->used * sizeof insns[0]);
      sh->ok = 1;
    } else {
      sh->what = read_what;
      sh->err = read_err;
    }
    sys1(SYS_exit_group, 0);
  }
  int status = 0;
  long waited = 0;
  while (sys4(SYS_wait4, child, &status, WALL | WNOHANG, 0) != child) {
    struct { long s, ns; } second = {1, 0};
    if (sys4(SYS_rt_sigtimedwait, &chld, 0, &second, 8) == -EAGAIN && ++waited >= PTRACE_DEADLINE_S) {
      sys2(SYS_kill, child, SIGKILL);
      sys4(SYS_wait4, child, &status, WALL, 0);
      seccomp_fail("ptrace did not attach within 5 s (is it in an execve that does not end?)", 0);
    }
  }
  /* Leave no SIGCHLD pending for the program (pending signals survive execve). */
  struct { long s, ns; } zero = {0, 0};
  while (sys4(SYS_rt_sigtimedwait, &chld, 0, &zero, 8) > 0) {}
  sys4(SYS_rt_sigprocmask, SIG_SETMASK, &old, 0, 8);
  if (!sh->ok) seccomp_fail(sh->what ? sh->what : "the reading process died", sh->err);
  if (sh->n < 0 || sh->n > MAXF || sh->used > MAXI) seccomp_fail("too many filters", 0);
  nfilters = sh->n;
  memcpy(filters, sh->f, sizeof filters);
  memcpy(insns, sh->i, sh->used * sizeof insns[0]);
  sys2(SYS_munmap, (long)sh, sizeof *sh);
  if (nfilters == 0) seccomp_fail("it has none, but its status said it had", 0);
}

/* Seccomp_filters of /proc/PID/status (Linux 5.9+): how many filters the target has now;
 * -1 when unknown. */
static long filter_count(long pid) {
  char path[64], buf[4096];
  mlen = 0;
  put("/proc/");
  putnum((unsigned long)pid);
  put("/status");
  memcpy(path, msg, mlen);
  path[mlen] = 0;
  long fd = sys4(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0) return -1;
  long n = sys3(SYS_read, fd, buf, sizeof buf - 1);
  sys1(SYS_close, fd);
  if (n <= 0) return -1;
  buf[n] = 0;
  for (long i = 0; i < n; i++)
    if ((i == 0 || buf[i - 1] == '\n') && starts(buf + i, "Seccomp_filters:")) {
      const char *p = buf + i + 16;
      while (*p == ' ' || *p == '\t') p++;
      return *p >= '0' && *p <= '9' ? parse_num(p, 10, 0) : -1;
    }
  return -1;
}

/* Z: the filters an earlier x wrote, if the fd holds a well-formed copy and the target has
 * exactly as many filters now. A process's filters are only ever added (never removed or
 * replaced), so a copy read from this same pinned process when it had as many is its
 * filters. Returns 0 (nothing loaded) otherwise. */
static int cached_filters(int fd) {
  static unsigned head[1 + 2 * MAXF];
  long n = sys4(SYS_pread64, fd, head, 4, 0);
  unsigned count = head[0];
  if (n != 4 || count == 0 || count > MAXF) return 0;
  long hlen = 4 + 8 * (long)count;
  if (sys4(SYS_pread64, fd, head, hlen, 0) != hlen) return 0;
  unsigned long used = 0;
  for (unsigned i = 0; i < count; i++) {
    unsigned len = head[1 + 2 * i], flags = head[2 + 2 * i];
    if (len == 0 || len > MAXI - used || (flags & ~SECCOMP_FILTER_FLAG_LOG)) return 0;
    filters[i].off = used;
    filters[i].len = len;
    filters[i].flags = flags;
    used += len;
  }
  long want = (long)used * (long)sizeof insns[0];
  char extra;
  if (sys4(SYS_pread64, fd, insns, want, hlen) != want ||
      sys4(SYS_pread64, fd, &extra, 1, hlen + want) != 0)
    return 0;
  if (filter_count(target_pid) != (long)count) return 0;
  nfilters = (int)count;
  return 1;
}

/* x: the filters just read, for a later Z. Best effort: a short write leaves a copy the
 * caller does not keep. */
static void dump_filters(int fd) {
  static unsigned head[1 + 2 * MAXF];
  head[0] = (unsigned)nfilters;
  unsigned long used = 0;
  for (int i = 0; i < nfilters; i++) {
    head[1 + 2 * i] = (unsigned)filters[i].len;
    head[2 + 2 * i] = (unsigned)filters[i].flags;
    used += filters[i].len;
  }
  write_all(fd, (const char *)head, 4 + 8 * (long)nfilters);
  write_all(fd, (const char *)insns, (long)(used * sizeof insns[0]));
}

/* The target's filters (from Z when it still holds them, else with ptrace), refused when
 * they cannot be copied faithfully or could fake a privilege drop. */
static void read_filters(void) {
  int ptraced = filters_in < 0 || !cached_filters(filters_in);
  if (ptraced) ptrace_filters();
  for (int i = 0; i < nfilters; i++) {
    /* A filter that hands syscalls to a supervisor (user notification) has its listener
     * in the runtime: a copy would fail every such syscall with ENOSYS. */
    for (unsigned long k = 0; k < filters[i].len; k++) {
      struct sock_filter_ *in = &insns[filters[i].off + k];
      if (in->code == BPF_RET_K && (in->k & SECCOMP_RET_ACTION_FULL) == SECCOMP_RET_USER_NOTIF)
        seccomp_fail("it sends syscalls to a supervisor (SECCOMP_RET_USER_NOTIF), which"
                     " cannot be copied", 0);
      /* A filter the target chose could make a call of ours report success without
       * running it: SECCOMP_RET_ERRNO with errno 0 is the one action that does (a return
       * of A could compute it). Any other action makes the call fail or kills us, and every
       * failure is caught (verify_creds). Installed before our credentials are dropped
       * (without no_new_privs) it could fake a drop; installed after (with it: any process
       * may set no_new_privs and add a filter, a container's init too) it still runs over
       * our fork - a faked clone returns 0, we took ourselves for the child and ran the
       * program here, in the caller's pid namespace (stop 18) - and our dup3, close and
       * setsid. */
      int ret = (in->code & 7) == BPF_RET_K;
      if (ret && (in->code != BPF_RET_K || in->k == SECCOMP_RET_ERRNO))
        seccomp_fail("it can make syscalls return success without running them"
                     " (SECCOMP_RET_ERRNO 0), which could fake dropping privileges or a fork",
                     0);
    }
  }
  /* Read now, from the host's /proc: under the filter a faked EINVAL could end a scan. */
  char buf[8];
  long fd = sys4(SYS_openat, AT_FDCWD, "/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC, 0);
  long n = fd < 0 ? fd : sys3(SYS_read, fd, buf, sizeof buf - 1);
  if (fd >= 0) sys1(SYS_close, fd);
  if (n <= 0) seccomp_fail("cannot read /proc/sys/kernel/cap_last_cap", n);
  buf[n] = 0;
  last_cap = parse_num(buf, 10, 0);
  if (ptraced && filters_out >= 0) dump_filters(filters_out);
  /* Nothing of the caller's stays open while we join. */
  if (filters_in >= 0) sys1(SYS_close, filters_in);
  if (filters_out >= 0) sys1(SYS_close, filters_out);
}

static __attribute__((noreturn)) void verify_fail(const char *what, long err) {
  fail_step = "seccomp";
  begin();
  put("Cannot confirm ");
  put(what);
  put(" under the seccomp filter of pid ");
  putnum((unsigned long)target_pid);
  if (err < 0) puterr(err);
  fail(125);
}

/* With the target's filter installed before the capabilities, ids and groups were set
 * (runc's order without no_new_privs), a filter chosen by the target could have made one of
 * those calls fail in a way that code treats as benign: read back what the kernel really
 * holds. Buffers start out poisoned, so a call that wrote nothing cannot pass. */
static void verify_creds(unsigned long bnd, unsigned long eff, int ambient, long uid, long gid,
                         const unsigned *groups, int ngroups, int set_groups) {
  for (long c = 0; c <= last_cap && c < 64; c++) {
    long r = sys2(SYS_prctl, PR_CAPBSET_READ, c);
    if (r < 0) verify_fail("the capability bounding set", r);
    if (r == 1 && !(bnd >> c & 1)) verify_fail("the capability bounding set", 0);
    r = sys6(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, c, 0, 0, 0);
    if (bnd != ~0UL && !ambient && r != 0) verify_fail("the ambient capabilities", r);
  }
  if (eff != ~0UL) {
    struct {
      unsigned version;
      int pid;
    } h = {0x20080522, 0};
    unsigned d[6] = {~0U, ~0U, ~0U, ~0U, ~0U, ~0U};
    long r = sys2(SYS_capget, &h, d);
    for (int k = 0; k < 3 && r == 0; k++)
      if ((d[k] & ~(unsigned)eff) || (d[3 + k] & ~(unsigned)(eff >> 32))) r = 1;
    if (r != 0) verify_fail("the capabilities", r);
  }
  unsigned ids[3] = {~0U, ~0U, ~0U};
  if (uid >= 0 && (sys3(SYS_getresuid, &ids[0], &ids[1], &ids[2]) != 0 || ids[0] != (unsigned)uid ||
                   ids[1] != (unsigned)uid || ids[2] != (unsigned)uid))
    verify_fail("the user id", 0);
  ids[0] = ids[1] = ids[2] = ~0U;
  if (gid >= 0 && (sys3(SYS_getresgid, &ids[0], &ids[1], &ids[2]) != 0 || ids[0] != (unsigned)gid ||
                   ids[1] != (unsigned)gid || ids[2] != (unsigned)gid))
    verify_fail("the group id", 0);
  if (set_groups) {
    unsigned now[64];
    for (int k = 0; k < 64; k++) now[k] = ~0U;
    long n = sys2(SYS_getgroups, 64, now);
    int ok = n == ngroups;
    for (int k = 0; ok && k < ngroups; k++) {
      int found = 0;
      for (int j = 0; j < ngroups; j++) found |= now[j] == groups[k];
      ok = found;
    }
    if (!ok) verify_fail("the supplementary groups", n < 0 ? n : 0);
  }
}

/* Oldest first, so the stack ends as the target's. The kernel allows this with
 * no_new_privs or with CAP_SYS_ADMIN in our user namespace (runc's two cases). */
static void install_filters(void) {
  for (int i = nfilters - 1; i >= 0; i--) {
    struct {
      unsigned short len;
      struct sock_filter_ *filter;
    } prog = {(unsigned short)filters[i].len, insns + filters[i].off};
    long r = sys3(SYS_seccomp, SECCOMP_SET_MODE_FILTER, filters[i].flags, &prog);
    if (r != 0) {
      fail_step = "seccomp";
      begin();
      put("Cannot install the seccomp filter of pid ");
      putnum((unsigned long)target_pid);
      puterr(r);
      fail(125);
    }
  }
}

static unsigned long limits[RLIM_NLIMITS][2];

/* Read by the caller from /proc/PID/limits: prlimit64 on another process would need
 * CAP_SYS_RESOURCE over it (a rootless container's, even for root without that cap). */
static void parse_limits(const char *p) {
  for (int k = 0; k < RLIM_NLIMITS * 2 && *p; k++) {
    unsigned long v = *p == 'i' ? ~0UL : (unsigned long)parse_num(p, 10, &p);
    if (*p == 'i') p++;
    limits[k / 2][k % 2] = v;
    if (*p == ':' || *p == ',') p++;
  }
}

static void set_limits(void) {
  for (int k = 0; k < RLIM_NLIMITS; k++) {
    long r = sys4(SYS_prlimit64, 0, k, limits[k], 0);
    if (r != 0) {
      begin();
      put("Cannot set resource limit ");
      putnum((unsigned long)k);
      put(" as the target has it");
      puterr(r);
      if (r == -EPERM) put(" - raising a hard limit needs CAP_SYS_RESOURCE");
      fail(125);
    }
  }
}

/* Written to our own /proc files before joining: inside the target /proc/self may not
 * resolve. oom_score_adj is inherited by the child we may fork, and the exec label is
 * applied at our (or that child's) execve. */
static void write_self(const char *file, const char *text, const char *what) {
  long fd = sys4(SYS_openat, AT_FDCWD, file, O_WRONLY | O_CLOEXEC, 0);
  long r = fd < 0 ? fd : sys3(SYS_write, fd, text, slen(text));
  if (fd >= 0) sys1(SYS_close, fd);
  if (r < 0) {
    begin();
    put("Cannot set ");
    put(what);
    put(" to ");
    putesc(text); /* the LSM label is the target's */
    puterr(r);
    fail(125);
  }
}

/* i: the target's confinement read here, from its /proc files, where the caller would read
 * and pass it (B E V z l o m): in a cold Deno each of those reads is ~0.1-0.3 ms of a CLI's
 * start, here ~10 us. The same files, the same rules as src/command.ts's. A whole file fits:
 * /proc/PID/status grows with Groups (65536 at most, < 1 MiB). */
static char proc_text[1 << 20];

static long read_proc(long pid, const char *file) {
  char path[64];
  mlen = 0;
  put("/proc/");
  if (pid) putnum((unsigned long)pid);
  else put("self");
  put("/");
  put(file);
  memcpy(path, msg, mlen);
  path[mlen] = 0;
  long fd = sys4(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC, 0);
  long n = 0, r = fd;
  while (fd >= 0 && n < (long)sizeof proc_text - 1) {
    r = sys3(SYS_read, fd, proc_text + n, sizeof proc_text - 1 - n);
    if (r <= 0) break;
    n += r;
  }
  if (fd >= 0) sys1(SYS_close, fd);
  if (r < 0 || n >= (long)sizeof proc_text - 1) {
    begin();
    put("Cannot read ");
    put(path);
    if (r < 0) puterr(r);
    else put(": larger than 1 MiB");
    if (pid && (r == -ENOENT || r == -ESRCH)) target_exited();
    fail(125);
  }
  proc_text[n] = 0;
  return n;
}

/* The value of "Field:" in proc_text (status), after its blanks; 0 when absent. */
static const char *status_field(const char *field) {
  for (const char *p = proc_text; *p;) {
    if (starts(p, field) && p[slen(field)] == ':') {
      p += slen(field) + 1;
      while (*p == ' ' || *p == '\t') p++;
      return p;
    }
    while (*p && *p != '\n') p++;
    if (*p) p++;
  }
  return 0;
}

static const char *needed_field(const char *field) {
  const char *v = status_field(field);
  if (!v || !*v || *v == '\n') {
    begin();
    put("Cannot read ");
    put(field);
    put(" of the target: not in /proc/PID/status");
    fail(125);
  }
  return v;
}

static int has_letter(const char *set, char c) {
  while (set && *set)
    if (*set++ == c) return 1;
  return 0;
}

/* /proc/PID/limits: a header, then 16 rows "NAME  SOFT  HARD  [UNITS]", the name ending at
 * the first run of two blanks; a value is "unlimited" or a number (parse_limits's table). */
static void limits_of(long pid) {
  read_proc(pid, "limits");
  const char *p = proc_text;
  while (*p && *p != '\n') p++;
  int rows = 0;
  while (*p == '\n' && p[1]) {
    p++;
    int ok = *p != ' ' && *p != '\t';
    while (*p && *p != '\n' && !((p[0] == ' ' || p[0] == '\t') && (p[1] == ' ' || p[1] == '\t')))
      p++;
    for (int k = 0; k < 2 && ok; k++) {
      while (*p == ' ' || *p == '\t') p++;
      unsigned long v = 0;
      if (starts(p, "unlimited") && (p[9] == ' ' || p[9] == '\t' || p[9] == '\n' || !p[9])) {
        v = ~0UL;
        p += 9;
      } else if (*p >= '0' && *p <= '9') {
        v = (unsigned long)parse_num(p, 10, &p);
        ok = *p == ' ' || *p == '\t' || *p == '\n' || !*p;
      } else ok = 0;
      if (ok && rows < RLIM_NLIMITS) limits[rows][k] = v;
    }
    if (!ok) {
      begin();
      put("Cannot read the resource limits of pid ");
      putnum((unsigned long)pid);
      put(": unexpected line");
      fail(125);
    }
    rows++;
    while (*p && *p != '\n') p++;
  }
  if (rows != RLIM_NLIMITS) {
    begin();
    put("Cannot read the resource limits of pid ");
    putnum((unsigned long)pid);
    put(": ");
    putnum((unsigned long)rows);
    put(" limits, not 16");
    fail(125);
  }
}

/* oom_score_adj as text ("-1000".."1000"), without its newline, in out. */
static void oom_of(long pid, char *out) {
  read_proc(pid, "oom_score_adj");
  int k = 0;
  for (const char *p = proc_text; *p && *p != '\n' && k < 15; p++) out[k++] = *p;
  out[k] = 0;
}

#define MAXE 4096
#define ORDER_VAR "NSJOIN_ENV_ORDER="

/* envp in the order asked for (names of keys), the rest after, in place of the sorted one;
 * our NSJOIN_ENV_ORDER entry left out. */
static char **reorder_env(char **envp, const char **order, int norder, char **out) {
  int n = 0, total = 0;
  for (char **e = envp; *e; e++) total++;
  static char used[MAXE];
  if (total >= MAXE) {
    /* Too many to reorder: keep the sorted order, only drop our entry. */
    for (char **e = envp; *e; e++)
      if (!starts(*e, ORDER_VAR)) out[n++] = *e;
    out[n] = 0;
    return out;
  }
  for (int i = 0; i < total; i++) used[i] = starts(envp[i], ORDER_VAR);
  for (int k = 0; k < norder; k++) {
    size_t kl = slen(order[k]);
    for (int i = 0; i < total; i++) {
      if (used[i] || !starts(envp[i], order[k]) || envp[i][kl] != '=') continue;
      used[i] = 1;
      out[n++] = envp[i];
      break;
    }
  }
  for (int i = 0; i < total; i++)
    if (!used[i]) out[n++] = envp[i];
  out[n] = 0;
  return out;
}

#define MAXJ 16
#define MAXC 64
#define MAXK 64

/* "Cannot use more than N x": a limit is refused, never silently cut short. */
static __attribute__((noreturn)) void too_many(int n, const char *what) {
  begin();
  put("Cannot use more than ");
  putnum((unsigned long)n);
  put(" ");
  put(what);
  fail(125);
}

/* A /proc/PID/fd/N (or /proc/PID/task/TID/fd/N, /dev/fd/N) path: an fd of some process,
 * which may be a directory anywhere (runc CVE-2024-21626's WORKDIR /proc/self/fd/7). */
static int fd_link_path(const char *p) {
  const char *c[5];
  int n = 0;
  while (*p && n < 5) {
    while (*p == '/') p++;
    if (!*p) break;
    c[n++] = p;
    while (*p && *p != '/') p++;
  }
#define IS(k, w) (n > (k) && starts(c[k], w) && (c[k][slen(w)] == '/' || !c[k][slen(w)]))
  return (IS(0, "proc") && (IS(2, "fd") || (IS(2, "task") && IS(4, "fd")))) ||
         (IS(0, "dev") && IS(1, "fd"));
#undef IS
}

static void refuse_fd_link(const char *path) {
  if (!fd_link_path(path)) return;
  begin();
  put("Cannot start in ");
  putesc(path);
  put(": a working directory through /proc/PID/fd may lie outside the target's root - give a path");
  fail(125);
}

/* W: a path inside the target: no magic link (/proc/PID/{fd/N,cwd,root}) on the way, not
 * even through a symlink the target planted (openat2, Linux 5.6+). */
static void chdir_inside(const char *wdns) {
  unsigned long how[3] = {O_PATH | O_DIRECTORY | O_CLOEXEC, 0, RESOLVE_NO_MAGICLINKS};
  long fd = sys4(SYS_openat2, AT_FDCWD, wdns, how, sizeof how);
  long r = fd >= 0 ? sys1(SYS_fchdir, fd) : fd == -ENOSYS ? sys1(SYS_chdir, wdns) : fd;
  if (fd >= 0) sys1(SYS_close, fd);
  if (r != 0) {
    begin();
    put("Cannot change directory to ");
    putesc(wdns);
    put(" in the target");
    puterr(r);
    if (r == -ELOOP) put(" - a /proc magic link (fd, cwd, root) on the way is refused");
    fail(125);
  }
}

/* W after joining a user namespace: the path is the target's to choose (a rootless container's
 * WorkingDir comes from its owner's config.json) and we are still the host's uid 0 there, no
 * capability of ours counting in it but the owner bits of every inode the host's root owns:
 * /root (0700) let us in, and the owner's processes followed the program's /proc/PID/cwd into
 * a directory below it that their root cannot reach (podman exec: "chdir to cwd … permission
 * denied"). runc changes directory as uid 0 of the namespace (runc init runs there as its
 * root): so do we, with that uid and gid as filesystem ids and no supplementary groups
 * (the kernel keeps our capabilities in the namespace: commoncap's LSM_SETID_FS raises the fs
 * set when fsuid becomes its root). setgid and setuid, which follow, set the ids again. */
static void fs_ids_of_namespace_root(const char *wdns) {
  sys2(SYS_setgroups, 0, 0);
  sys1(SYS_setfsgid, 0);
  sys1(SYS_setfsuid, 0);
  /* setfs*id return the previous id whether or not they changed it: -1 changes nothing and
   * says which it is now (65534 where the namespace maps no uid 0). */
  long u = sys1(SYS_setfsuid, -1), g = sys1(SYS_setfsgid, -1), n = sys2(SYS_getgroups, 0, 0);
  if (u != 0 || g != 0 || n != 0) {
    begin();
    put("Cannot change directory to ");
    putesc(wdns);
    put(" in the target as its root - ");
    put(n != 0 ? "its user namespace refuses setgroups" : "its user namespace maps no uid or gid 0");
    fail(125);
  }
}

/* A cwd not reachable from our root is reported by the kernel with "(unreachable)" instead
 * of a leading '/': a host directory must never leak into the target. */
static void check_cwd(void) {
  char cwd[4096];
  long r = sys2(SYS_getcwd, cwd, sizeof cwd);
  if (r > 0 && cwd[0] != '/') {
    begin();
    put("Cannot start in a working directory outside the target's root - use -W DIR (a directory inside the target) or --root");
    fail(125);
  }
  /* Fail closed: a deleted directory (ENOENT) or one too deep to name (ENAMETOOLONG)
   * cannot be shown to lie inside the root, and `cd ..` from a deleted host directory
   * climbs the host's tree. */
  if (r < 0) {
    begin();
    put("Cannot start in this working directory");
    puterr(r);
    if (r == -ENOENT) put(" - it was deleted; use -W DIR (a directory inside the target)");
    fail(125);
  }
}

/* L: the session's reply socket, request pipe, /dev/null and the target's pidfd it keeps (see
 * session_loop); the caller's socket, used once (session_reply) to hand it the reply socket. */
static int session_fd = -1, session_in = -1, session_null = -1, session_pidfd = -1;
static int session_caller = -1;

/* Every fd but 0-2, the kept ones (K), the caller's pipe (e), a, b (the pty's ends) and a
 * session's fds (L). */
static void close_all_but(const int *keep, int nkeep, int a, int b) {
  int still[MAXK + 8];
  int n = 0;
  for (int k = 0; k < nkeep; k++) still[n++] = keep[k];
  if (errfd >= 3) still[n++] = errfd;
  if (session_fd >= 3) still[n++] = session_fd;
  if (session_caller >= 3) still[n++] = session_caller;
  if (session_in >= 3) still[n++] = session_in;
  if (session_null >= 3) still[n++] = session_null;
  if (session_pidfd >= 3) still[n++] = session_pidfd;
  if (a >= 3) still[n++] = a;
  if (b >= 3) still[n++] = b;
  close_fds(still, n);
}

/* k: PR_SET_PDEATHSIG, then the man page's check that the parent did not die before it. */
static void arm_pdeathsig(long parent) {
  sys2(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL);
  if (sys0(SYS_getppid) != parent) {
    begin();
    put("Cannot start: the caller exited");
    fail(125);
  }
}

/* ---- L<sock>:<pipe>: an exec session (src/session.ts) ----
 * Everything above ran once, as for one exec: pinned, joined, every privileged step done in
 * this process, which stays in the caller's pid namespace (see "Security"). Instead of
 * forking one child we serve requests, one at a time, each a frame on the pipe (u32 length,
 * then the bytes):
 *   'X' u8 stdin, 2 pad, u32 argc, u32 envc, then NUL-terminated cwd ("" = ours), argv, envp
 *   'K' 3 pad, u32 signal: send it to the running program (ignored once it ended: the pipe
 *       keeps the order, so a 'K' never reaches a later program)
 * Replies go on our own socket, 8 bytes each, a type and an int: 'R' ready; 'P' the program
 * runs, with its stdout, stderr and error pipe's read ends and, when asked for, its stdin's
 * write end (SCM_RIGHTS); then 'S' its wait status; 'F' -errno, nothing ran (fork or pipe
 * refused, a malformed request); 'D' the target exited, and we exit.
 *
 * Why these two channels, made so: a child is born in the target's pid namespace holding a
 * copy of every fd of ours, and a task there with CAP_SYS_PTRACE in the initial user
 * namespace takes fds of such a child with pidfd_getfd before it closes them (see
 * "Security"). A socket the caller made, or one the caller sends on, names the caller to
 * whoever holds it: SO_PEERPIDFD gives a pidfd of the process that made a socketpair, and
 * SO_PASSPIDFD one of the sender of every message received (or peeked) on it (Linux 6.5) —
 * and pidfd_getfd on that pidfd (no pid namespace check, only ptrace rights, which that task
 * has over a root caller) took any fd of Deno: its files, the sockets of its other sessions.
 * So the caller never sends on a socket we hold: requests come on a pipe (pipes carry no
 * credentials), and the reply socket is made here, after every join and credential change
 * (session_reply), so that it names only us as we are then: the target's namespaces but its
 * pid namespace (whose ancestor setns refuses to enter), its credentials and filter, holding
 * nothing the target's programs do not get. Made before the joins, it named the process that
 * made it, which with a v2 cgroup (H) stays behind to supervise us with the caller's
 * credentials in every namespace of the host: a thief got fds of the host's mount and network
 * namespaces from that pidfd (PIDFD_GET_MNT_NAMESPACE...; tests/security_test.ts "review 7").
 * The program's pipes are made here too (the caller cannot send them without a socket). What
 * a thief can do with our fds is read the requests, write some (opening the pipe through
 * /proc/PID/fd) and send the caller forged replies (the caller takes only pipes from them):
 * no more than it does by ptracing the child it took them from, or the program - run
 * programs with the session's credentials, rewrite their output and status. We exit when
 * the pipe closes (killing a program still running), when the target exits (so that a
 * container's cgroup is never held after it stopped) and, with k, with the caller. */
#define SESSION_MAX (128 * 1024)
#define SESSION_ARGS 8192
struct reply_ {
  char type, pad[3];
  int value;
};
/* One reply, with nfds fds (SCM_RIGHTS). */
static void session_send(char type, long value, const int *fds, int nfds) {
  struct reply_ r = {type, {0, 0, 0}, (int)value};
  struct iovec_ iov = {&r, sizeof r};
  unsigned long control[4] = {16 + 4 * (unsigned long)nfds, 1 | (1UL << 32), 0, 0};
  for (int k = 0; k < nfds && k < 4; k++) ((int *)&control[2])[k] = fds[k];
  struct msghdr_ m = {0, 0, &iov, 1, nfds ? control : 0, nfds ? sizeof control : 0, 0};
  long n;
  do n = sys3(SYS_sendmsg, session_fd, &m, 0x4000 /* MSG_NOSIGNAL */);
  while (n == -EINTR);
  if (n != (long)sizeof r) die_code(0); /* the caller is gone */
}
/* Reads exactly n bytes: 1, or 0 at EOF or an error (the caller closed the pipe). */
static int read_full(int fd, char *buf, long n) {
  while (n > 0) {
    long r = sys3(SYS_read, fd, buf, n);
    if (r == -EINTR) continue;
    if (r <= 0) return 0;
    buf += r;
    n -= r;
  }
  return 1;
}
/* The next frame into buf (NUL-terminated): its length, or 0 when the pipe closed or the
 * frame cannot be one of the caller's (longer than any request: the wire is broken). */
static long session_frame(char *buf) {
  unsigned len = 0;
  if (!read_full(session_in, (char *)&len, 4) || len < 8 || len > SESSION_MAX) return 0;
  if (!read_full(session_in, buf, len)) return 0;
  buf[len] = 0;
  return len;
}
/* argc, then envc strings from p (n bytes) into out, NULL-terminated; 0 when they do not fit. */
static char *session_strings(char *p, char *end, char **out, unsigned count) {
  for (unsigned k = 0; k < count; k++) {
    if (p >= end) return 0;
    out[k] = p;
    while (p < end && *p) p++;
    if (p >= end) return 0;
    p++;
  }
  out[count] = 0;
  return p;
}
static int target_gone(void) {
  return session_pidfd >= 0 && sys4(SYS_pidfd_send_signal, session_pidfd, 0, 0, 0) == -ESRCH;
}
/* The child of a request: born in the target's pid namespace, holding a copy of our fds (a
 * fork copies every one) that its first syscall closes but fds[]: see above for why nothing
 * among them leads to the caller. */
static __attribute__((noreturn)) void session_child(const int *fds, const char *cwd, char **argv,
                                                    char **envp, long kill_parent) {
  int keep[4] = {fds[0], fds[1], fds[2], fds[3]};
  close_fds(keep, 4);
  errfd = fds[3];
  long r = 0;
  /* fds[] are >= 3 (0-2 are open here), so dup3 never meets its own target. */
  for (int k = 0; k < 3 && r >= 0; k++) r = sys3(SYS_dup3, fds[k], k, 0);
  if (r < 0) {
    begin();
    put("Cannot set up the program's standard input and output");
    puterr(r);
    fail(125);
  }
  int pipe = errfd;
  close_fds(&pipe, 1);
  /* A session of its own, as option t gives one program (forked: never a group leader). */
  if (sys0(SYS_setsid) < 0) {
    begin();
    put("Cannot start a session for the program");
    fail(125);
  }
  if (*cwd) chdir_inside(cwd);
  check_cwd();
  if (kill_parent >= 0) arm_pdeathsig(sys0(SYS_getppid));
  exec_program(argv, envp);
}
/* L, before anything is joined: /dev/null, while the host's /dev is ours to open. */
static void session_open(void) {
  long r = session_in < 3 ? -EBADF
                          : sys4(SYS_openat, AT_FDCWD, "/dev/null", O_RDONLY | O_CLOEXEC, 0);
  if (r < 0) {
    begin();
    put("Cannot open the session's channel");
    puterr(r);
    fail(125);
  }
  session_null = (int)r;
}
/* L, after every join and credential change, before the first fork: the reply socket, made
 * now so that it names this process as it now is (SO_PEERPIDFD: see session_loop), goes to
 * the caller over the caller's socket, which we then close. */
static void session_reply(void) {
  int sv[2];
  long r = sys4(SYS_socketpair, 1 /* AF_UNIX */, 5 /* SOCK_SEQPACKET */ | O_CLOEXEC, 0, sv);
  if (r == 0) {
    r = pass_fd(session_caller, sv[1]);
    sys1(SYS_close, sv[1]);
    r = r == 1 ? 0 : r < 0 ? r : -EBADF;
    if (r < 0) sys1(SYS_close, sv[0]);
  }
  if (r < 0) {
    begin();
    put("Cannot open the session's channel");
    puterr(r);
    fail(125);
  }
  session_fd = sv[0];
  sys1(SYS_close, session_caller);
  session_caller = -1;
}
/* Closes the fds of `fds` that are >= 0. */
static void close_some(const int *fds, int n) {
  for (int k = 0; k < n; k++)
    if (fds[k] >= 0) sys1(SYS_close, fds[k]);
}
static __attribute__((noreturn)) void session_loop(long kill_parent) {
  session_reply();
  /* Failures so far went to the setup pipe; from here on each request has its own. */
  if (errfd >= 0) sys1(SYS_close, errfd);
  errfd = -1;
  session_send('R', 0, 0, 0);
  static char req[SESSION_MAX + 1];
  static char *rargv[SESSION_ARGS + 1], *renvp[SESSION_ARGS + 1];
  for (;;) {
    struct pollfd_ pf[2] = {{session_in, POLLIN, 0}, {session_pidfd, POLLIN, 0}};
    long r = sys6(SYS_ppoll, (long)pf, 2, 0, 0, 8, 0);
    if (r == -EINTR) continue;
    if (r < 0) die_code(125);
    /* A pidfd is readable once its process exited. */
    if (pf[1].revents) {
      session_send('D', 0, 0, 0);
      die_code(0);
    }
    long n = session_frame(req);
    if (n == 0) die_code(0);
    if (req[0] != 'X') {
      /* A 'K' for a program that already ended is no error. */
      if (req[0] != 'K') session_send('F', -EINVAL, 0, 0);
      continue;
    }
    unsigned argc = n >= 12 ? *(unsigned *)(req + 4) : 0;
    unsigned envc = n >= 12 ? *(unsigned *)(req + 8) : 0;
    char *end = req + n, *cwd = req + 12;
    char *p = n >= 12 ? session_strings(cwd, end, rargv, 1) : 0;
    p = p && argc >= 1 && argc <= SESSION_ARGS ? session_strings(p, end, rargv, argc) : 0;
    p = p && envc <= SESSION_ARGS ? session_strings(p, end, renvp, envc) : 0;
    if (!p) {
      session_send('F', -EINVAL, 0, 0);
      continue;
    }
    /* As the one-shot path checks before joining: nothing runs for a target that exited. */
    if (target_gone()) {
      session_send('D', 0, 0, 0);
      die_code(0);
    }
    /* The program's ends and the caller's: stdin (when asked for), stdout, stderr, the
     * error pipe. */
    int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1}, ep[2] = {-1, -1};
    r = req[1] ? sys2(SYS_pipe2, in, O_CLOEXEC) : 0;
    if (r == 0) r = sys2(SYS_pipe2, out, O_CLOEXEC);
    if (r == 0) r = sys2(SYS_pipe2, err, O_CLOEXEC);
    if (r == 0) r = sys2(SYS_pipe2, ep, O_CLOEXEC);
    long child = r < 0 ? r : sys6(SYS_clone, SIGCHLD, 0, 0, 0, 0, 0);
    int fds[4] = {req[1] ? in[0] : session_null, out[1], err[1], ep[1]};
    if (child == 0) session_child(fds, cwd, rargv, renvp, kill_parent);
    int theirs[4] = {out[0], err[0], ep[0], in[1]};
    if (child < 0) {
      int all[8] = {in[0], in[1], out[0], out[1], err[0], err[1], ep[0], ep[1]};
      close_some(all, 8);
      session_send('F', child, 0, 0);
      continue;
    }
    int mine[2] = {in[0], ep[1]};
    close_some(mine, 2);
    session_send('P', 0, theirs, req[1] ? 4 : 3);
    close_some(theirs, 4);
    /* Our own unreaped child: its PID cannot be reused, so this pidfd is it. */
    long cfd = sys2(SYS_pidfd_open, child, 0);
    while (cfd >= 0) {
      struct pollfd_ w[2] = {{(int)cfd, POLLIN, 0}, {session_in, POLLIN, 0}};
      r = sys6(SYS_ppoll, (long)w, 2, 0, 0, 8, 0);
      if (r == -EINTR) continue;
      if (r < 0 || w[0].revents) break;
      long k = session_frame(req);
      /* The program and what it started: session_child made it a session (so a process
       * group) of its own, whose ID is its PID. kill(-child) cannot reach another group: the
       * child is ours and unreaped, and the kernel frees no PID still used as a process
       * group's or session's ID (kernel/pid.c: a struct pid lives while a task links it as
       * its PIDTYPE_PGID or PIDTYPE_SID), so no other group can hold this number. Before the
       * child's setsid the group does not exist yet (ESRCH): the pidfd reaches the child. */
      if (k == 0) {
        /* The session was closed while the program ran: it ends with it, group and all. */
        sys2(SYS_kill, -child, SIGKILL);
        sys2(SYS_kill, child, SIGKILL);
        sys4(SYS_wait4, child, 0, 0, 0);
        die_code(0);
      }
      unsigned sig = req[0] == 'K' ? *(unsigned *)(req + 4) : 0;
      if (sig >= 1 && sig <= 64) {
        sys4(SYS_pidfd_send_signal, cfd, sig, 0, 0);
        sys2(SYS_kill, -child, sig);
      }
    }
    if (cfd >= 0) sys1(SYS_close, cfd);
    int status = 0;
    while ((r = sys4(SYS_wait4, child, &status, 0, 0)) == -EINTR) {
    }
    session_send('S', status, 0, 0);
    /* Our copies of its stdout and stderr close only now: the caller, which waits for them
     * to close, then finds the status already there (one wake-up, not two). */
    sys1(SYS_close, out[1]);
    sys1(SYS_close, err[1]);
  }
}

/* H: join the cgroup v2 directory `dir`. Writing to cgroup.procs (v1 or v2) takes
 * cgroup_threadgroup_rwsem for writing (kernel/cgroup/cgroup.c: cgroup_procs_write_start ->
 * cgroup_attach_lock -> percpu_down_write), and that rwsem, idle in its fast mode, first waits
 * for an RCU grace period (rcu_sync_enter -> synchronize_rcu): 7-15 ms once after idle.
 * clone3(CLONE_INTO_CGROUP) (Linux 5.7) creates a process in the cgroup taking the rwsem only
 * for reading (cgroup_css_set_fork), after the checks a write of cgroup.procs would make
 * (cgroup_attach_permissions) with the caller's credentials, seccomp filter and cgroup
 * namespace at that moment. So it is done now, before any join or credential change, and not
 * at the final fork: there the target's filter (docker's default profile answers clone3 with
 * ENOSYS) or the program's uid (EACCES on a cgroup.procs of root's) would refuse it. The
 * child is born in our (the caller's) pid namespace, where nothing of the target sees it, so
 * it may hold privilege (see "Security"): it goes on to join, change credentials and fork the
 * program exactly as we would have, and we supervise it. When we do not fork, or clone3 is
 * refused (ENOSYS before 5.7 or under the caller's filter, EOPNOTSUPP for a "domain invalid"
 * cgroup, EBUSY, EACCES...), returns an fd of its cgroup.procs to write after joining as for
 * C, whose write then succeeds or fails with the kernel's reason: the program never runs
 * outside the cgroup. Returns -1 in the child born in the cgroup. */
static int join_cgroup_v2(const char *dir, int forks, long *kill_parent, const char **shown) {
  int dfd = open_checked(dir, O_PATH, CGROUP2_SUPER_MAGIC, CGROUP2_SUPER_MAGIC, "cgroup");
  if (forks) {
    unsigned long set = relay_set(), old = 0;
    sys4(SYS_rt_sigprocmask, SIG_BLOCK, &set, &old, 8);
    long me = sys0(SYS_getpid);
    /* struct clone_args, u64s on every architecture: flags, pidfd, child_tid, parent_tid,
     * exit_signal, stack, stack_size, tls, set_tid, set_tid_size, cgroup. An O_PATH fd of
     * the directory is enough (cgroup_css_set_fork takes it with fget_raw). */
    unsigned long args[11] = {CLONE_INTO_CGROUP, 0, 0, 0, SIGCHLD, 0, 0, 0, 0, 0, (unsigned long)dfd};
    long child = sys2(SYS_clone3, args, sizeof args);
    if (child > 0) {
      /* The child reports failures and holds what it needs; our copies would only keep the
       * caller's pipe (and the relay's socket) open. It passes signals on to the program's
       * process group itself. */
      close_fds((int *)0, 0);
      errfd = -1;
      tree = 0;
      supervise(child, -1, -1, &set);
    }
    sys4(SYS_rt_sigprocmask, SIG_SETMASK, &old, 0, 8);
    if (child == 0) {
      sys1(SYS_close, dfd);
      /* Our parent is now our supervisor: we die with it, as with the caller before. */
      if (*kill_parent >= 0) {
        *kill_parent = me;
        arm_pdeathsig(me);
      }
      return -1;
    }
  }
  static char procs[4096 + 16];
  size_t n = slen(dir);
  if (n > 4096) n = 4096; /* longer paths were refused by the open above (ENAMETOOLONG) */
  memcpy(procs, dir, n);
  memcpy(procs + n, "/cgroup.procs", 14);
  *shown = procs;
  /* Through the directory we checked, not by its path again. */
  char p[48];
  fd_path(p, dfd);
  memcpy(p + slen(p), "/cgroup.procs", 14);
  int fd = open_checked(p, O_WRONLY, CGROUP2_SUPER_MAGIC, CGROUP2_SUPER_MAGIC, "cgroup");
  sys1(SYS_close, dfd);
  return fd;
}

/* ---- d and r: `nsjoin exec docker:NAME`'s checks, here rather than in JavaScript ----------
 * The CLI's fast path (src/cli/_exec_fast.ts) finds the container in dockerd's state files
 * (root's, JSON) and becomes us at once with the PID they name (P without a start time: the
 * caller pinned nothing). What the full path checks in JavaScript once it pinned the process
 * is checked here, after our pidfd pins it and before the pidfd_send_signal check in
 * start_c proves that every file read meanwhile was the pinned process's (a PID is reused
 * only once its process is reaped). Each function names the JavaScript rule it mirrors: the
 * same lines, the same refusals, the same words. For root only (the caller checks: the rules
 * below are _cgroupProcs's with uid 0, and dockerd's files are root's). */

/* Our cgroup mounts, from /proc/self/mountinfo (src/_cgroup_mounts.ts cgroupMountTable):
 * field 4 (the cgroup mounted), field 5 (the mount point), both \ooo-unescaped, and the
 * super options (a v1 hierarchy's controllers and name=X). */
#define MAXM 64
static struct cg_mount {
  const char *root, *point, *opts;
  int v2;
} mounts[MAXM];
static int nmounts;
static char mountinfo[1 << 20];
static char cg_theirs[1 << 16], cg_mine[1 << 16];

static int eqn(const char *a, const char *b, size_t n) {
  for (size_t k = 0; k < n; k++)
    if (a[k] != b[k]) return 0;
  return 1;
}

/* "/proc/PID/<file>" into out (at least 48 bytes). */
static void proc_file(char *out, long pid, const char *file) {
  mlen = 0;
  put("/proc/");
  putnum((unsigned long)pid);
  put("/");
  put(file);
  memcpy(out, msg, mlen);
  out[mlen] = 0;
}

/* A whole small file into buf, NUL-terminated: its length, or -errno (-EFBIG: too big). */
static long slurp(const char *path, char *buf, long size) {
  long fd = sys4(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC | O_NONBLOCK, 0);
  if (fd < 0) return fd;
  long n = 0, r;
  while ((r = sys3(SYS_read, fd, buf + n, size - 1 - n)) > 0) {
    n += r;
    if (n >= size - 1) break;
  }
  sys1(SYS_close, fd);
  if (r < 0) return r;
  if (n >= size - 1) return -EFBIG;
  buf[n] = 0;
  return n;
}

static __attribute__((noreturn)) void read_fail(const char *path, long err) {
  begin();
  put("Cannot read ");
  putesc(path);
  puterr(err);
  fail(125);
}

/* In place: "\040" -> ' ' (the kernel escapes blanks, tabs, newlines and '\' in mountinfo;
 * JS: s.replace(/\\([0-7]{3})/g, …)). */
static void unescape(char *s) {
  char *o = s;
  for (; *s; s++) {
    if (s[0] == '\\' && s[1] >= '0' && s[1] <= '7' && s[2] >= '0' && s[2] <= '7' &&
        s[3] >= '0' && s[3] <= '7') {
      *o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
      s += 3;
    } else {
      *o++ = *s;
    }
  }
  *o = 0;
}

/* The next line of text (NUL-terminated in place), or 0 at the end. */
static char *next_line(char **at) {
  char *line = *at;
  if (!*line) return 0;
  char *end = line;
  while (*end && *end != '\n') end++;
  *at = *end ? end + 1 : end;
  *end = 0;
  return line;
}

/* Whether a mountinfo line is a cgroup mount's: " - cgroup " or " - cgroup2 " in it. */
static int cgroup_line(const char *l, const char *end) {
  for (; l + 10 <= end; l++)
    if (starts(l, " - cgroup ") || (l + 11 <= end && starts(l, " - cgroup2 "))) return 1;
  return 0;
}

/* Only the cgroup mounts' lines of /proc/self/mountinfo are kept in `mountinfo`, read piece by
 * piece: the whole file is every mount's, and a local user may add many with long paths
 * (fusermount3, mount_max 1000): 400 at a 3000-byte path (1.2 MB) refused root's exec with
 * EFBIG where the full path, which reads it whole, ran (stop 22, second look). */
static long read_cgroup_lines(void) {
  long fd = sys4(SYS_openat, AT_FDCWD, "/proc/self/mountinfo", O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0) return fd;
  const long size = sizeof mountinfo - 1;
  long kept = 0, have = 0, r; /* [0, kept): cgroup lines; [kept, kept + have): unread text */
  while ((r = sys3(SYS_read, fd, mountinfo + kept + have, size - kept - have)) > 0 || r == -EINTR) {
    if (r > 0) have += r;
    char *p = mountinfo + kept, *end = p + have, *nl;
    while (p < end) {
      for (nl = p; nl < end && *nl != '\n'; nl++) {}
      if (nl == end) break;
      if (cgroup_line(p, nl)) {
        long len = nl + 1 - p;
        memcpy(mountinfo + kept, p, (size_t)len); /* down: our memcpy copies forward */
        kept += len;
      }
      p = nl + 1;
    }
    have = end - p;
    for (long k = 0; k < have; k++) mountinfo[kept + k] = p[k];
    if (kept + have >= size) break; /* one line, or the cgroup lines, fill the buffer */
  }
  sys1(SYS_close, fd);
  if (r < 0) return r;
  if (kept + have >= size) return -EFBIG;
  mountinfo[kept + have] = 0;
  return kept + have;
}

/* cgroupMountTable: the lines whose " - " separator is followed by "cgroup " or "cgroup2 ". */
static void read_mounts(void) {
  long n = read_cgroup_lines();
  if (n < 0) read_fail("/proc/self/mountinfo", n);
  char *at = mountinfo, *line;
  while ((line = next_line(&at))) {
    char *sep = line;
    while (*sep && !(sep[0] == ' ' && sep[1] == '-' && sep[2] == ' ')) sep++;
    int v2 = starts(sep, " - cgroup2 "), v1 = starts(sep, " - cgroup ");
    if (!v1 && !v2) continue;
    if (nmounts >= MAXM) too_many(MAXM, "cgroup mounts");
    char *opts = sep + (v2 ? 11 : 10); /* the source, then the super options */
    while (*opts && *opts != ' ') opts++;
    if (*opts) opts++;
    *sep = 0;
    char *f[5], *p = line;
    for (int k = 0; k < 5; k++) { /* fields 1-5, blank-separated */
      f[k] = p;
      while (*p && *p != ' ') p++;
      if (*p) *p++ = 0;
    }
    unescape(f[3]);
    unescape(f[4]);
    mounts[nmounts].root = f[3];
    mounts[nmounts].point = f[4];
    mounts[nmounts].opts = opts;
    mounts[nmounts].v2 = v2;
    nmounts++;
  }
}

/* Whether the comma-separated `set` holds s[0..n) (JS: a Set of split(",")). */
static int has_key(const char *set, const char *s, size_t n) {
  for (const char *p = set;;) {
    const char *e = p;
    while (*e && *e != ',') e++;
    if ((size_t)(e - p) == n && eqn(p, s, n)) return 1;
    if (!*e) return 0;
    p = e + 1;
  }
}

/* cgroupMountRoots, then Map#get: where hierarchy `key` (a first controller or name=X; ""
 * for cgroup v2) is mounted at its root; a later line wins, as with Map#set. */
static const char *root_mount(const char *key, size_t n) {
  for (int k = nmounts - 1; k >= 0; k--) {
    struct cg_mount *m = &mounts[k];
    if (m->root[0] != '/' || m->root[1] || !m->point[0]) continue;
    if (n == 0 ? m->v2 : !m->v2 && has_key(m->opts, key, n)) return m->point;
  }
  return 0;
}

/* /proc/PID/cgroup's lines "ID:CONTROLLERS:PATH", split in place (blank lines skipped; a
 * line without two ':' has none of either, as JS's indexOf gives). */
#define MAXL 32
struct cg_line {
  const char *controllers, *path;
  size_t nc;
};
static int cg_lines(char *text, struct cg_line *out) {
  int n = 0;
  char *at = text, *line;
  while ((line = next_line(&at))) {
    char *a = line;
    while (*a && *a != ':') a++;
    char *b = *a ? a + 1 : a;
    while (*b && *b != ':') b++;
    if (!*a || !*b) continue;
    if (n >= MAXL) too_many(MAXL, "cgroup hierarchies");
    out[n].controllers = a + 1;
    out[n].nc = (size_t)(b - a - 1);
    out[n].path = b + 1;
    n++;
  }
  return n;
}

static int hex_at(const char *p, size_t n) {
  for (size_t k = 0; k < n; k++)
    if (!((p[k] >= '0' && p[k] <= '9') || (p[k] >= 'a' && p[k] <= 'f'))) return 0;
  return 1;
}

/* At p: `prefix`, 64 hex digits (*id), an optional ".scope" (not for "/", containerd's
 * pattern), then '/' or the end — the tail `([0-9a-f]{64})(?:\.scope)?(?:\/|$)` of
 * src/engines.ts CGROUP_PATTERNS. */
static int id_at(const char *p, const char *prefix, const char **id) {
  if (!starts(p, prefix)) return 0;
  p += slen(prefix);
  for (int k = 0; k < 64; k++)
    if (!p[k] || !hex_at(p + k, 1)) return 0;
  *id = p;
  p += 64;
  if (prefix[0] != '/' && starts(p, ".scope") && (p[6] == '/' || !p[6])) return 1;
  return *p == '/' || !*p;
}

/* containerOfCgroup (src/engines.ts), asked one thing: whether the first line that names a
 * container names docker's container `id` (a line with "conmon-" first: none). Its patterns
 * in order, each matched where it first can: docker[-/]ID, libpod-ID, crio-ID and
 * cri-containerd-ID at the start or after '/', then /ID (containerd's layout). */
static int docker_named(const struct cg_line *ls, int n, const char *id) {
  static const char *const prefixes[] = {"libpod-", "crio-", "cri-containerd-"};
  for (int k = 0; k < n; k++) {
    const char *path = ls[k].path, *found = 0;
    for (const char *p = path; *p; p++)
      if (starts(p, "conmon-")) return 0;
    for (const char *p = path; *p; p++)
      if ((p == path || p[-1] == '/') && (id_at(p, "docker-", &found) || id_at(p, "docker/", &found)))
        return eqn(found, id, 64);
    for (int e = 0; e < 3; e++)
      for (const char *p = path; *p; p++)
        if ((p == path || p[-1] == '/') && id_at(p, prefixes[e], &found)) return 0;
    for (const char *p = path; *p; p++)
      if (id_at(p, "/", &found)) return 0;
  }
  return 0;
}

/* Root-made cgroup directories found (rootDirs of _rootMadeCgroup), joined without
 * comparing ours. */
static char dirs_pool[MAXL][4200];
static int ndirs;

static int root_dir(const char *dir) {
  for (int k = 0; k < ndirs; k++) {
    const char *a = dirs_pool[k], *b = dir;
    while (*a && *a == *b) a++, b++;
    if (!*a && !*b) return 1;
  }
  return 0;
}

/* mount + path[0..n) into out (at most 4200 bytes): a cgroup's directory in our tree. */
static int dir_of(char *out, const char *mount, const char *path, size_t n) {
  size_t m = slen(mount);
  if (m + n >= 4200) return 0;
  memcpy(out, mount, m);
  memcpy(out + m, path, n);
  out[m + n] = 0;
  return 1;
}

/* The owner of a path, links followed (statSafe); -1 when it cannot be stat'ed. */
static long owner_of(const char *path) {
  unsigned char st[256];
  if (sys4(SYS_newfstatat, AT_FDCWD, path, st, 0) != 0) return -1;
#if defined(__x86_64__)
  return *(unsigned *)(st + 28);
#else
  return *(unsigned *)(st + 24);
#endif
}

/* A container's own cgroup: CONTAINER_CGROUP (ENGINE-ID or ENGINE-ID.scope), or a bare ID
 * that is not a podman pod's (below libpod_parent) — the `inside` test of _rootMadeCgroup. */
static int container_cgroup(const char *p, size_t n, const char *parent, size_t np) {
  static const char *const engines[] = {"docker-", "libpod-", "crio-", "cri-containerd-"};
  for (int e = 0; e < 4; e++) {
    size_t l = slen(engines[e]);
    if (n < l + 64 || !eqn(p, engines[e], l) || !hex_at(p + l, 64)) continue;
    if (n == l + 64 || (n == l + 70 && eqn(p + l + 64, ".scope", 6))) return 1;
  }
  return n == 64 && hex_at(p, 64) && !(parent && np == 13 && eqn(parent, "libpod_parent", 13));
}

/* _rootMadeCgroup (src/engines.ts): each line of a hierarchy with controllers, or of cgroup
 * v2, that has a component named for `id` (ID, *-ID, *-ID.scope; the deepest) must have it
 * below no other container's cgroup, and its directory on our mount of the hierarchy's root
 * must be root's; at least one such line. A named v1 hierarchy's (name=systemd: a rootful
 * container's root may write it) only adds its root-made directory to those joined. */
static int root_made(const struct cg_line *ls, int n, const char *id) {
  int checked = 0;
  for (int k = 0; k < n; k++) {
    const char *path = ls[k].path, *c = ls[k].controllers;
    size_t nc = ls[k].nc, first = 0;
    while (first < nc && c[first] != ',') first++;
    int named = nc > 0;
    for (size_t s = 0; s < nc;) {
      size_t e = s;
      while (e < nc && c[e] != ',') e++;
      if (e - s < 5 || !eqn(c + s, "name=", 5)) named = 0;
      s = e + 1;
    }
    /* Components between '/': the deepest named for the ID, and where it ends. */
    size_t end = 0;
    int found = 0;
    for (size_t s = 0;;) {
      size_t e = s;
      while (path[e] && path[e] != '/') e++;
      size_t len = e - s;
      const char *p = path + s;
      if ((len == 64 && eqn(p, id, 64)) ||
          (len >= 65 && p[len - 65] == '-' && eqn(p + len - 64, id, 64)) ||
          (len >= 71 && p[len - 71] == '-' && eqn(p + len - 70, id, 64) &&
           eqn(p + len - 6, ".scope", 6)))
        found = 1, end = e;
      if (!path[e]) break;
      s = e + 1;
    }
    if (!found) continue;
    const char *mount = root_mount(c, first);
    char *dir = ndirs < MAXL ? dirs_pool[ndirs] : 0;
    if (named) {
      if (dir && mount && dir_of(dir, mount, path, end) && owner_of(dir) == 0) ndirs++;
      continue;
    }
    const char *parent = 0;
    size_t np = 0;
    for (size_t s = 0; s < end;) {
      size_t e = s;
      while (path[e] && path[e] != '/') e++;
      if (e >= end) break; /* the component named for the ID itself */
      if (container_cgroup(path + s, e - s, parent, np)) return 0;
      parent = path + s;
      np = e - s;
      s = e + 1;
    }
    if (!mount) continue;
    if (!dir || !dir_of(dir, mount, path, end) || owner_of(dir) != 0) return 0;
    ndirs++;
    checked++;
  }
  return checked > 0;
}

/* Our own line of hierarchy `c` in /proc/self/cgroup equals `path` (_cgroupProcs's `mine`). */
static int shared_cgroup(const struct cg_line *mine, int nmine, const struct cg_line *l) {
  for (int k = nmine - 1; k >= 0; k--) { /* a Map: the last line of a key wins */
    if (mine[k].nc != l->nc || !eqn(mine[k].controllers, l->controllers, l->nc)) continue;
    const char *a = mine[k].path, *b = l->path;
    while (*a && *a == *b) a++, b++;
    return !*a && !*b;
  }
  return 0;
}

/* Whether every key of controllers c[0..nc) is in the mount's super options. */
static int mount_has_all(const struct cg_mount *m, const char *c, size_t nc) {
  for (size_t s = 0; s <= nc;) {
    size_t e = s;
    while (e < nc && c[e] != ',') e++;
    if (!has_key(m->opts, c + s, e - s)) return 0;
    s = e + 1;
  }
  return 1;
}

static char joined_pool[MAXL][4200 + 8];

/* _cgroupProcs (src/container_exec.ts) as root, with the pinning's view: for each of the
 * target's hierarchies, the first of our mounts of it whose cgroup holds the path; its
 * directory there is joined (a v1 hierarchy through `tasks`, into cg; cgroup v2's directory,
 * into *cg2) unless it is not a root-made one and ours is the same cgroup. A hierarchy we have
 * no path to (not mounted here, or the path leaves our mount through `..`, as in a cgroup
 * namespace of ours) is refused when it limits anything (controllers; a v2 mount exists) and
 * ours is not the same cgroup: root would run the program outside the target's limits.
 * *freezer: the v1 freezer hierarchy's tasks file among them (0: none). */
static int cgroup_files(const struct cg_line *ls, int n, const char **cg, int ncg,
                        const char **cg2, const char **freezer) {
  struct cg_line mine[MAXL];
  int nmine = -1;
  for (int k = 0; k < n; k++) {
    const struct cg_line *l = &ls[k];
    const char *path = l->path;
    const struct cg_mount *m = 0;
    size_t rl = 0;
    for (int j = 0; j < nmounts && !m; j++) {
      const struct cg_mount *c = &mounts[j];
      if (l->nc == 0 ? !c->v2 : c->v2 || !mount_has_all(c, l->controllers, l->nc)) continue;
      /* (path + "/").startsWith(root with one trailing "/") */
      rl = slen(c->root);
      if (rl && c->root[rl - 1] == '/') rl--;
      if (eqn(path, c->root, rl) && (path[rl] == '/' || !path[rl])) m = c;
    }
    const char *rel = m ? (m->root[0] == '/' && !m->root[1] ? path : path + slen(m->root)) : 0;
    int dots = 0;
    for (const char *p = rel; p && *p; p++)
      if ((p == rel || p[-1] == '/') && p[0] == '.' && p[1] == '.' && (p[2] == '/' || !p[2]))
        dots = 1;
    if (!m || dots) {
      int limits = 0;
      for (int j = 0; l->nc == 0 && j < nmounts; j++) limits |= mounts[j].v2;
      for (size_t s = 0; l->nc && s <= l->nc;) {
        size_t e = s;
        while (e < l->nc && l->controllers[e] != ',') e++;
        if (e - s < 5 || !eqn(l->controllers + s, "name=", 5)) limits = 1;
        s = e + 1;
      }
      if (!limits) continue;
      if (nmine < 0) nmine = cg_lines(cg_mine, mine);
      if (shared_cgroup(mine, nmine, l)) continue;
      begin();
      put("Cannot join the ");
      if (l->nc) {
        for (size_t s = 0; s < l->nc && mlen < sizeof msg - 2; s++) msg[mlen++] = l->controllers[s];
      } else {
        put("cgroup v2");
      }
      put(" cgroup of pid ");
      putnum((unsigned long)target_pid);
      put(" - it is outside our mounts of that hierarchy (are we in a cgroup namespace?)");
      last_errno = ENOENT;
      fail(125);
    }
    char *dir = joined_pool[k];
    size_t pl = slen(m->point), nl = slen(rel);
    if (rel[0] == '/' && !rel[1]) nl = 0;
    if (pl + nl + 7 > 4200 + 8) too_many(4200, "bytes in a cgroup path");
    memcpy(dir, m->point, pl);
    memcpy(dir + pl, rel, nl);
    dir[pl + nl] = 0;
    if (!root_dir(dir)) {
      if (nmine < 0) nmine = cg_lines(cg_mine, mine);
      if (shared_cgroup(mine, nmine, l)) continue;
    }
    if (m->v2) {
      if (*cg2) too_many(1, "cgroup v2 directories");
      *cg2 = dir;
      continue;
    }
    memcpy(dir + pl + nl, "/tasks", 7);
    if (ncg >= MAXC) too_many(MAXC, "cgroups");
    cg[ncg++] = dir;
    if (has_key(m->opts, "freezer", 7)) *freezer = dir;
  }
  return ncg;
}

/* String trim of JS (blanks and line ends) around text[0..n): whether it is exactly `word`. */
static int trimmed_is(const char *t, const char *word) {
  while (*t == ' ' || *t == '\t' || *t == '\n' || *t == '\r' || *t == '\v' || *t == '\f') t++;
  size_t n = slen(t), w = slen(word);
  while (n > 0 && (t[n - 1] == ' ' || t[n - 1] == '\t' || t[n - 1] == '\n' || t[n - 1] == '\r' ||
                   t[n - 1] == '\v' || t[n - 1] == '\f'))
    n--;
  return n == w && eqn(t, word, w);
}

/* dir + "/" + name, read whole ("" when not there: another hierarchy has no such file). */
static const char *cgroup_file(const char *dir, size_t n, const char *name) {
  static char path[4300], text[4096];
  size_t m = slen(name);
  memcpy(path, dir, n);
  path[n] = '/';
  memcpy(path + n + 1, name, m + 1);
  long r = slurp(path, text, sizeof text);
  if (r == -ENOENT) return "";
  if (r < 0) read_fail(path, r);
  return text;
}

/* _assertNotFrozen (src/container_exec.ts), told the freezer's file: docker pause freezes the
 * cgroup, where the helper and the program would hang until it is thawed. The v1 freezer's
 * freezer.state FROZEN or FREEZING; cgroup v2's cgroup.freeze 1, or cgroup.events "frozen 1"
 * (through an ancestor). Refused in the CLI's words: "Cannot exec in container NAME: it is
 * paused", exit 125. */
static void refuse_frozen(const char *freezer, const char *cg2, const char *shown) {
  int frozen = 0;
  if (freezer) {
    const char *t = cgroup_file(freezer, slen(freezer) - 6, "freezer.state");
    frozen = trimmed_is(t, "FROZEN") || trimmed_is(t, "FREEZING");
  }
  if (cg2 && !frozen) {
    frozen = trimmed_is(cgroup_file(cg2, slen(cg2), "cgroup.freeze"), "1");
    const char *events = cgroup_file(cg2, slen(cg2), "cgroup.events");
    for (const char *p = events; *p && !frozen; p++)
      if ((p == events || p[-1] == '\n') && starts(p, "frozen 1") && (p[8] == '\n' || !p[8]))
        frozen = 1;
  }
  if (!frozen) return;
  begin();
  put("Cannot exec in container ");
  putesc(shown);
  put(": it is paused - unpause it first (its cgroup is frozen)");
  last_errno = EBUSY;
  fail(125);
}

/* A file of the container, read as src/container_exec.ts readContainerFile reads it
 * (ffi/files.ts readFileSafe with a root): resolved by the kernel with /proc/PID/root as
 * "/" (openat2 RESOLVE_IN_ROOT: absolute symlinks and ".." stay inside, magic links such as
 * /proc/self/root are refused), O_PATH first, which opens nothing; only a regular file is
 * then opened, through that fd (a FIFO never blocks us, a device is never opened); at most
 * 4 MiB. Returns its length, or -errno: ENOENT and ENOTDIR (no such file), EINVAL (not a
 * regular file, or one of the kernel's interfaces: kernel_fs), EFBIG (larger), the kernel's. */
#define ETC_MAX (4L << 20)
#define RESOLVE_IN_ROOT 0x10

/* Whether an fd is on one of the kernel's interface file systems (statfs f_type, from
 * include/uapi/linux/magic.h): their "regular" files answer a read with the kernel's data,
 * checked against the reader's capabilities (at open: /proc/kmsg needs CAP_SYSLOG,
 * check_syslog_permissions) or acting on it (a read of /proc/kmsg consumes the kernel log).
 * The container's root lacks those capabilities and we have them all: its /etc/passwd
 * linked to its /proc/kmsg had root's exec drain the host's pending kernel log (stop 23).
 * A container's /etc files are stored ones; these are never read for it (the full path's
 * ffi/files.ts storedOnly refuses the same list). */
static int kernel_fs(long fd) {
  static const unsigned long magic[] = {
      0x9fa0,     /* proc */
      0x62656572, /* sysfs */
      0x64626720, /* debugfs */
      0x74726163, /* tracefs */
      0x73636673, /* securityfs */
      0x62656570, /* configfs */
      0xcafe4a11, /* bpf */
      0x6165676c, /* pstore */
      0xde5e81e4, /* efivarfs */
      CGROUP_SUPER_MAGIC,
      CGROUP2_SUPER_MAGIC,
  };
  unsigned long sfs[16] = {0}; /* struct statfs: f_type is the first word */
  if (sys2(SYS_fstatfs, fd, sfs) != 0) return 1;
  for (unsigned k = 0; k < sizeof magic / sizeof magic[0]; k++)
    if (sfs[0] == magic[k]) return 1;
  return 0;
}
static long read_inside(long pid, const char *path, char *buf) {
  char root[48];
  proc_file(root, pid, "root");
  long rfd = sys4(SYS_openat, AT_FDCWD, root, O_PATH | O_CLOEXEC, 0);
  if (rfd < 0) return rfd;
  unsigned long how[3] = {O_PATH | O_CLOEXEC, 0, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
  long pfd = -EAGAIN;
  /* EAGAIN: ".." met while anything was renamed; the kernel asks for a retry (bounded, as
   * ffi/files.ts OPENAT2_TRIES). */
  for (int tries = 0; pfd == -EAGAIN && tries < 64; tries++)
    pfd = sys4(SYS_openat2, rfd, path, how, sizeof how);
  sys1(SYS_close, rfd);
  if (pfd < 0) return pfd;
  unsigned char st[256];
#if defined(__x86_64__)
  unsigned mode = sys2(SYS_fstat, pfd, st) == 0 ? *(unsigned *)(st + 24) : 0;
#else
  unsigned mode = sys2(SYS_fstat, pfd, st) == 0 ? *(unsigned *)(st + 16) : 0;
#endif
  char p[32];
  fd_path(p, pfd);
  long fd = (mode & S_IFMT) != S_IFREG || kernel_fs(pfd)
                ? -EINVAL
                : sys4(SYS_openat, AT_FDCWD, p, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY, 0);
  sys1(SYS_close, pfd);
  if (fd < 0) return fd;
  long n = 0, r;
  while ((r = sys3(SYS_read, fd, buf + n, ETC_MAX + 1 - n)) > 0 || r == -EINTR) {
    if (r > 0) n += r;
    if (n > ETC_MAX) break;
  }
  sys1(SYS_close, fd);
  if (r < 0) return r;
  if (n > ETC_MAX) return -EFBIG;
  buf[n] = 0;
  return n;
}

/* _lines (src/container_exec.ts): the file's text, or "" when it does not exist (numeric ids
 * still work, names do not, as with docker); any other failure refused in _lines's words. */
static char etc_passwd[ETC_MAX + 2], etc_group[ETC_MAX + 2];
static int blank(char c) {
  return c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r';
}
/* Each line without the blanks around it, in place, as docker's reader (runc's
 * libcontainer/user: bytes.TrimSpace) and _lines take it: CRLF line ends left "\r" at the end of
 * every last field (a group's last member was no member). */
static void trim_lines(char *buf) {
  char *in = buf, *out = buf;
  while (*in) {
    while (blank(*in)) in++;
    char *start = out;
    while (*in && *in != '\n') *out++ = *in++;
    while (out > start && blank(out[-1])) out--;
    if (*in == '\n') *out++ = *in++;
  }
  *out = 0;
}
static char *etc_lines(long pid, const char *path, char *buf) {
  long n = read_inside(pid, path, buf);
  if (n == -ENOENT || n == -ENOTDIR) {
    buf[0] = 0;
    return buf;
  }
  if (n >= 0) {
    /* A UTF-8 BOM first is no part of the text: the full path's TextDecoder drops it. */
    char *text = (unsigned char)buf[0] == 0xef && (unsigned char)buf[1] == 0xbb &&
                         (unsigned char)buf[2] == 0xbf ? buf + 3 : buf;
    trim_lines(text);
    return text;
  }
  begin();
  put("Cannot read ");
  put(path);
  put(" of pid ");
  putnum((unsigned long)pid);
  if (n == -EINVAL) put(" - it is not a regular file");
  else if (n == -EFBIG) put(" - it is larger than 4 MiB");
  else puterr(n);
  last_errno = -n;
  fail(125);
}

/* Field k (from 0) of a "a:b:c" line: its start and length; 0 when the line has fewer. */
static const char *field(const char *line, int k, size_t *len) {
  const char *p = line;
  for (int i = 0; i < k; i++) {
    while (*p && *p != ':' && *p != '\n') p++;
    if (*p != ':') return 0;
    p++;
  }
  const char *e = p;
  while (*e && *e != ':' && *e != '\n') e++;
  *len = (size_t)(e - p);
  return p;
}

/* The first line of an /etc file (lines "" and "#…" skipped) whose field k is s[0..n). */
static const char *find_line(const char *text, int k, const char *s, size_t n, const char *from) {
  for (const char *l = from ? from : text; *l;) {
    size_t len;
    const char *f = *l != '\n' && *l != '#' ? field(l, k, &len) : 0;
    if (f && len == n && eqn(f, s, n)) return l;
    while (*l && *l != '\n') l++;
    if (*l) l++;
  }
  return 0;
}

static int all_digits(const char *s, size_t n) {
  for (size_t k = 0; k < n; k++)
    if (s[k] < '0' || s[k] > '9') return 0;
  return n > 0;
}

/* The number of -u's uid or gid (digits, as atoi_form left them), refused above 4294967294 in
 * NsCommand's words (the caller sends ten digits or more to the full path). */
static long id_value(const char *s, size_t n, const char *what) {
  unsigned long v = 0;
  if (n > 1 && *s == '+') s++, n--; /* Number("+5") is 5 */
  int ok = all_digits(s, n) || n == 0;
  for (size_t k = 0; ok && k < n && v <= 0xfffffffeUL; k++) v = v * 10 + (unsigned long)(s[k] - '0');
  if (ok && v <= 0xfffffffeUL) return (long)v;
  begin();
  put("Cannot use ");
  put(what);
  put(" ");
  for (size_t k = 0; k < n && k < 32; k++) msg[mlen++] = s[k] >= ' ' && s[k] < 0x7f ? s[k] : '?';
  put(": give a number from 0 to 4294967294");
  fail(125);
}

/* A uid or gid field of the container's /etc/passwd or /etc/group (_field in
 * src/container_exec.ts): missing or empty is 0 (runc's parser leaves it at zero), digits after
 * an optional '+' their number; anything else ("abc", " 5", "0x10"), which docker reads as 0, is
 * refused in _field's words: a user whose ids the file does not say runs as no one. */
static long field_id(const char *s, size_t n, const char *what, const char *file) {
  if (!s) n = 0;
  if (n > 1 && *s == '+') s++, n--;
  unsigned long v = 0;
  int ok = n == 0 || all_digits(s, n);
  for (size_t k = 0; ok && k < n && v <= 0xfffffffeUL; k++) v = v * 10 + (unsigned long)(s[k] - '0');
  if (ok && v <= 0xfffffffeUL) return (long)v;
  begin();
  put("Cannot read ");
  put(file);
  put(" of pid ");
  putnum((unsigned long)target_pid);
  put(" - a ");
  put(what);
  put(" in it is not a number from 0 to 4294967294");
  last_errno = EINVAL;
  fail(125);
}

/* runc's strconv.Atoi form of an id (src/container_exec.ts _id): digits after an optional
 * leading '+'. Sets *s and *n to the digits. */
static int atoi_form(const char **s, size_t *n) {
  const char *p = *s;
  size_t k = *n;
  if (k && *p == '+') p++, k--;
  if (!all_digits(p, k)) return 0;
  *s = p, *n = k;
  return 1;
}

/* The first /etc/passwd line whose uid field, read as runc's Atoi reads it, is v: `-u 01000`
 * and a field "01000" are uid 1000 (_containerUser compares numbers, not text). A field
 * out of range is no match. */
static const char *find_uid_line(const char *text, unsigned long v) {
  for (const char *l = text; *l;) {
    size_t len;
    const char *f = *l != '\n' && *l != '#' ? field(l, 2, &len) : 0;
    if (f && atoi_form(&f, &len)) {
      unsigned long x = 0;
      size_t k = 0;
      for (; k < len && x <= 0xfffffffeUL; k++) x = x * 10 + (unsigned long)(f[k] - '0');
      if (k == len && x == v) return l;
    }
    while (*l && *l != '\n') l++;
    if (*l) l++;
  }
  return 0;
}

static __attribute__((noreturn)) void unknown(const char *what, const char *s, size_t n,
                                                const char *file, const char *hint) {
  begin();
  put("Cannot find ");
  put(what);
  put(" \"");
  /* The caller allows [A-Za-z0-9_.@-], but of any length: a container's User (its config,
   * "0:" and a group its root then removed from /etc/group) overran msg here, as root's
   * exec went by (stop 22, second look). At most 200 bytes of it, so the line stays whole. */
  for (size_t k = 0; k < n && k < 200; k++) msg[mlen++] = s[k];
  if (n > 200) put("...");
  put("\" in ");
  put(file);
  put(" of pid ");
  putnum((unsigned long)target_pid);
  put(" - ");
  put(hint);
  last_errno = ENOENT;
  fail(125);
}

/* s[0..n) into out (at most size - 1 bytes, NUL-terminated) as the full path has it: its
 * reader decodes the file as TextDecoder does (WHATWG UTF-8), each invalid sequence one U+FFFD,
 * and NsCommand passes the text on as UTF-8. A HOME of a Latin-1 byte was that byte here and
 * EF BF BD there. Valid sequences are copied as they are. */
static void utf8_text(char *out, size_t size, const char *s, size_t n) {
  size_t o = 0, k = 0;
  while (k < n) {
    unsigned char b = (unsigned char)s[k];
    size_t need = b < 0x80 ? 0 : b >= 0xc2 && b <= 0xdf ? 1 : b >= 0xe0 && b <= 0xef ? 2
                             : b >= 0xf0 && b <= 0xf4 ? 3 : 4;
    unsigned char lo = b == 0xe0 ? 0xa0 : b == 0xf0 ? 0x90 : 0x80;
    unsigned char hi = b == 0xed ? 0x9f : b == 0xf4 ? 0x8f : 0xbf;
    size_t j = 1;
    /* The first continuation byte has the lead's range, the others 80-BF (WHATWG). */
    for (; need < 4 && j <= need && k + j < n; j++) {
      unsigned char c = (unsigned char)s[k + j];
      if (c < (j == 1 ? lo : 0x80) || c > (j == 1 ? hi : 0xbf)) break;
    }
    const char *put_bytes = s + k;
    size_t len = j;
    if (need == 4 || j <= need) put_bytes = "\xef\xbf\xbd", len = 3; /* the bytes so far: one U+FFFD */
    if (need == 4) j = 1;
    if (o + len >= size) break;
    memcpy(out + o, put_bytes, len);
    o += len;
    k += j;
  }
  out[o] = 0;
}

/* r<spec>: _containerUser (src/container_exec.ts) and docker's groups (_execGroups): spec
 * name|uid[:group|gid] ("" is root) resolved in the container's /etc/passwd and /etc/group;
 * a numeric uid need not be listed (gid 0 then), a name must be; a numeric group reads no
 * /etc/group; the user's memberships are added only when no group is given (runc's rule).
 * Sets uid, gid, the groups (docker: the primary gid, then the memberships, each once) and
 * the home directory ("/" when not listed). */
static const char *container_user(const char *spec, long *uid, long *gid, unsigned *groups,
                                  int *ngroups) {
  static char home[4096];
  const char *colon = spec;
  while (*colon && *colon != ':') colon++;
  const char *u = spec, *g = *colon ? colon + 1 : 0;
  size_t nu = (size_t)(colon - spec), ng = g ? slen(g) : 0;
  const char *gd = g;
  size_t ngd = ng;
  int gnumeric = g && atoi_form(&gd, &ngd);
  const char *passwd = etc_lines(target_pid, "/etc/passwd", etc_passwd);
  const char *group = gnumeric ? "" : etc_lines(target_pid, "/etc/group", etc_group);
  if (nu == 0) u = "0", nu = 1;
  const char *ud = u;
  size_t nud = nu;
  int numeric = atoi_form(&ud, &nud);
  const char *entry = numeric ? find_uid_line(passwd, (unsigned long)id_value(ud, nud, "uid"))
                              : find_line(passwd, 0, u, nu, 0);
  if (!entry && !numeric) unknown("user", u, nu, "/etc/passwd", "give a name the target knows, or a uid");
  size_t n = 0;
  const char *f;
  if (entry) {
    f = field(entry, 2, &n);
    *uid = field_id(f, n, "uid", "/etc/passwd");
    f = field(entry, 3, &n);
    *gid = field_id(f, n, "gid", "/etc/passwd");
  } else {
    *uid = id_value(ud, nud, "uid");
    *gid = 0;
  }
  if (g && ng) {
    if (gnumeric) {
      *gid = id_value(gd, ngd, "gid");
    } else {
      const char *ge = find_line(group, 0, g, ng, 0);
      if (!ge) unknown("group", g, ng, "/etc/group", "give a group the target knows, or a gid");
      f = field(ge, 2, &n);
      *gid = field_id(f, n, "gid", "/etc/group");
    }
  }
  *ngroups = 0;
  groups[(*ngroups)++] = (unsigned)*gid;
  size_t nn = 0;
  const char *name = (!g || !ng) && entry ? field(entry, 0, &nn) : 0;
  for (const char *l = name && nn ? group : ""; *l;) {
    size_t len, ml;
    const char *members = *l != '\n' && *l != '#' ? field(l, 3, &ml) : 0;
    for (const char *m = members; m && m < members + ml;) {
      const char *e = m;
      while (e < members + ml && *e != ',') e++;
      if ((size_t)(e - m) == nn && eqn(m, name, nn)) {
        const char *gf = field(l, 2, &len);
        unsigned v = (unsigned)field_id(gf, len, "gid", "/etc/group");
        int seen = 0;
        for (int k = 0; k < *ngroups; k++) seen |= groups[k] == v;
        if (!seen) {
          if (*ngroups >= MAXK) too_many(MAXK, "supplementary groups");
          groups[(*ngroups)++] = v;
        }
        break;
      }
      m = e + 1;
    }
    while (*l && *l != '\n') l++;
    if (*l) l++;
  }
  /* HOME as runc sets it (_dockerHome): the home of the first entry of the uid, read as a
   * number ("" when the field is), "/" when none has it. */
  const char *byuid = find_uid_line(passwd, (unsigned long)*uid);
  const char *h = byuid ? field(byuid, 5, &n) : "/";
  if (!byuid) n = 1;
  if (!h) h = "", n = 0;
  utf8_text(home, sizeof home, h, n);
  return home;
}

/* d<ID>:<name> (with r<spec>, given after it): the checks of `nsjoin exec docker:NAME`, in
 * the full path's order. The pinned process must be in a cgroup that names docker's
 * container ID (src/containers.ts _pinDockerState: containerOfCgroup) and that root made
 * (_rootMadeCgroup), else dockerd's state names someone else's process (a PID reused since
 * it was written, a forged cgroup in a delegated subtree): refused in the full path's words.
 * Then the user (r), then the cgroups to join (_cgroupProcs) and the freezer
 * (_assertNotFrozen). The cgroups join those of C and H. */
static int docker_checks(const char *arg, const char *user_spec, long *uid, long *gid,
                         unsigned *groups, int *ngroups, const char **home, const char **cg,
                         int ncg, const char **cg2) {
  const char *id = arg, *shown = arg + 65;
  if (slen(arg) < 66 || !hex_at(arg, 64) || arg[64] != ':') {
    begin();
    put("helper: d needs ID:NAME");
    fail(125);
  }
  char path[48];
  proc_file(path, target_pid, "cgroup");
  long n = slurp(path, cg_theirs, sizeof cg_theirs);
  if (n < 0) read_fail(path, n);
  n = slurp("/proc/self/cgroup", cg_mine, sizeof cg_mine);
  if (n < 0) read_fail("/proc/self/cgroup", n);
  read_mounts();
  struct cg_line ls[MAXL];
  int nl = cg_lines(cg_theirs, ls);
  if (!docker_named(ls, nl, id) || !root_made(ls, nl, id)) {
    begin();
    put("Cannot use docker container ");
    putesc(shown);
    put(" - dockerd's state names a process outside the container's cgroups");
    last_errno = ESRCH;
    fail(125);
  }
  if (user_spec) *home = container_user(user_spec, uid, gid, groups, ngroups);
  const char *freezer = 0;
  ncg = cgroup_files(ls, nl, cg, ncg, cg2, &freezer);
  refuse_frozen(freezer, *cg2, shown);
  return ncg;
}

__attribute__((used)) void start_c(long *sp) {
  long argc = sp[0];
  char **argv = (char **)(sp + 1);
  char **envp = argv + argc + 1;

  /* Non-dumpable first: nothing in the target may ptrace us or open our /proc files. */
  sys2(SYS_prctl, PR_SET_DUMPABLE, 0);

  unsigned long want_start = 0, want_inode = 0;
  unsigned mask = 0;
  int atomic = 1, nofork = 0, drop_groups = 0, tty = 0, nnp = 0, identity = 0, fresh = 0;
  int only_differing = 0, resolve = 0, own_files = 0;
  int keepcaps = 0, wdns_as_caller = 0;
  unsigned long bnd = ~0UL, eff = ~0UL;
  long uid = -1, gid = -1;
  const char *root = 0, *wd = 0, *wdns = 0, *netns = 0, *debug_tools = 0;
  struct join js[MAXJ];
  int nj = 0;
  const char *cg[MAXC + 1], *cg2 = 0;
  int ncg = 0;
  int keep[MAXK];
  int nkeep = 0;
  static const char *order[MAXE];
  int norder = 0, env_order = 0;
  long kill_parent = -1;
  unsigned groups[MAXK];
  int ngroups = 0, set_groups = 0;
  int copy_seccomp = 0, copy_limits = 0;
  const char *oom = 0, *lsm_label = 0;
  long umask_to = -1;
  const char *from_target = 0;
  const char *docker = 0, *user_spec = 0, *home = 0;
  int i = 1;
  for (; i < argc; i++) {
    char *a = argv[i];
    if (a[0] == '-' && a[1] == '-' && !a[2]) {
      i++;
      break;
    }
    const char *end;
    switch (a[0]) {
    case 'P':
      target_pid = parse_num(a + 1, 10, &end);
      if (*end == ':') want_start = (unsigned long)parse_num(end + 1, 10, &end);
      if (*end == ':') want_inode = (unsigned long)parse_num(end + 1, 10, 0);
      break;
    case 'J': mask = (unsigned)parse_num(a + 1, 16, 0); break;
    case 'I': identity = 1; break;
    case 'N':
      if (nj >= MAXJ - NNS) too_many(MAXJ - NNS, "namespace files");
      {
        js[nj].flag = (unsigned)parse_num(a + 1, 16, &end);
        js[nj].path = *end == '=' ? end + 1 : "";
        js[nj].done = 0;
        nj++;
      }
      break;
    case 'h': {
      /* At most 64 bytes: the line and the record's message keep their room. */
      size_t n = 0;
      while (a[1 + n] && n <= 64) n++;
      if (n <= 64) who = a + 1, who_len = n;
      break;
    }
    case 'A': atomic = 0; break;
    case 'b': only_differing = 1; break;
    case 'u': own_files = 1; break;
    case 'f': resolve = 1; break;
    case 'R': root = a + 1; break;
    case 'D': wd = a + 1; break;
    case 'W': wdns = a + 1; break;
    case 'w': wdns_as_caller = 1; break;
    case 'C':
      if (ncg >= MAXC) too_many(MAXC, "cgroups");
      cg[ncg++] = a + 1;
      break;
    case 'H':
      if (cg2) too_many(1, "cgroup v2 directories");
      cg2 = a + 1;
      break;
    case 'U': uid = parse_num(a + 1, 10, 0); break;
    case 'G': gid = parse_num(a + 1, 10, 0); break;
    case 'X': drop_groups = 1; break;
    case 'S':
      for (const char *p = a + 1; *p;) {
        if (ngroups >= MAXK) too_many(MAXK, "supplementary groups");
        groups[ngroups++] = (unsigned)parse_num(p, 10, &p);
        if (*p == ',') p++;
        else break;
      }
      set_groups = 1;
      break;
    case 'K':
      if (nkeep >= MAXK - 1) too_many(MAXK - 1, "kept fds");
      keep[nkeep++] = (int)parse_num(a + 1, 10, 0);
      break;
    case 'F': nofork = 1; break;
    case 'Y': tty = on_pty = 1; break;
    case 'V': nnp = 1; break;
    case 'c': keepcaps = 1; break;
    case 'n': sh_fallback = 1; break;
    case 'Q': fresh = 1; break;
    case 'M': netns = a + 1; break;
    case 'O': env_order = 1; break;
    case 'p': lookup_path = a + 1; break;
    case 's': arg0 = a + 1; break;
    case 'e': errfd = (int)parse_num(a + 1, 10, 0); break;
    case 'k': kill_parent = parse_num(a + 1, 10, 0); break;
    case 'g': tree = 1; break;
    case 't': own_session = 1; break;
    case 'B': bnd = (unsigned long)parse_num(a + 1, 16, 0); break;
    case 'E': eff = (unsigned long)parse_num(a + 1, 16, 0); break;
    case 'z': copy_seccomp = 1; break;
    case 'Z':
    case 'x': {
      long fd = parse_num(a + 1, 10, 0);
      *(a[0] == 'Z' ? &filters_in : &filters_out) = fd >= 3 && fd < 1 << 20 ? (int)fd : -1;
      break;
    }
    case 'l':
      parse_limits(a + 1);
      copy_limits = 1;
      break;
    case 'o': oom = a + 1; break;
    case 'm': umask_to = parse_num(a + 1, 8, 0); break;
    case 'i': from_target = a + 1; break;
    case 'd': docker = a + 1; break;
    case 'r': user_spec = a + 1; break;
    case 'a': lsm_label = a + 1; break;
    case 'T': debug_tools = a + 1; break;
    case 'L': {
      const char *e = a + 1;
      session_caller = (int)parse_num(e, 10, &e);
      session_in = *e == ':' ? (int)parse_num(e + 1, 10, 0) : -1;
      break;
    }
    }
  }
  if (i >= argc) {
    begin();
    put("helper: no program given");
    fail(125);
  }
  char **prog_argv = argv + i;
  /* Inherited fds are closed before anything else, not only before execve: a leaked
   * directory fd would otherwise be reachable as /proc/self/fd/N while we join and chdir
   * (runc CVE-2024-21626). The caller's pipe (e) stays until execve. */
  {
    int early[MAXK + MAXJ + 4];
    for (int k = 0; k < nkeep; k++) early[k] = keep[k];
    int nearly = nkeep;
    if (errfd >= 3) early[nearly++] = errfd;
    if (session_caller >= 3) early[nearly++] = session_caller;
    if (session_in >= 3) early[nearly++] = session_in;
    /* Z and x: read and written before the first join (read_filters), closed then. */
    int z = copy_seccomp || has_letter(from_target, 'z');
    if (z && filters_in >= 3) early[nearly++] = filters_in;
    if (z && filters_out >= 3) early[nearly++] = filters_out;
    /* A namespace file the caller handed over as one of its own fds (enter -N and
     * --user-parent, after it replaced itself with us) is opened below: it stays until
     * then, and like every fd not in K it is closed before execve. */
    for (int k = 0; k < nj; k++)
      if (starts(js[k].path, "/proc/self/fd/"))
        early[nearly++] = (int)parse_num(js[k].path + 14, 10, 0);
    close_fds(early, nearly);
  }
  if (session_caller >= 0) session_open();
  if (kill_parent > 0) arm_pdeathsig(kill_parent);
  /* Y: the caller's stdin, stdout and stderr and the pty's master stay in a process of their
   * own, forked now, before anything is joined: it relays between them, and nothing of it is
   * ever in the target's pid namespace. This process goes on to join, gets a pty there and
   * hands the master over (SCM_RIGHTS), and its child, the program, is born with the pty
   * alone as its stdin, stdout and stderr. */
  int relay_sock = -1;
  if (tty) {
    int sv[2];
    long r = sys4(SYS_socketpair, 1 /* AF_UNIX */, 1 /* SOCK_STREAM */ | O_CLOEXEC, 0, sv);
    unsigned long set = relay_set(), old = 0;
    sys4(SYS_rt_sigprocmask, SIG_BLOCK, &set, &old, 8);
    long child = r < 0 ? r : sys6(SYS_clone, SIGCHLD, 0, 0, 0, 0, 0);
    if (child < 0) {
      begin();
      put("Cannot start the terminal relay");
      puterr(child);
      fail(125);
    }
    if (child > 0) {
      sys1(SYS_close, sv[1]);
      /* Nothing but the caller's stdio and the socket: the pipe and kept fds are the
       * other process's to keep or close. */
      errfd = -1;
      close_fds(&sv[0], 1);
      relay_drop_privs();
      int master = take_fd(sv[0]);
      int report = master < 0 ? -1 : take_fd(sv[0]);
      sys1(SYS_close, sv[0]);
      supervise(child, master, report, &set);
    }
    sys1(SYS_close, sv[0]);
    relay_sock = sv[1];
    /* Out of the caller's process group: a signal its terminal sends (^C in cooked mode)
     * reaches the relay, which passes it on once, and not us as well (the program would
     * get it twice). */
    sys2(SYS_setpgid, 0, 0);
    sys4(SYS_rt_sigprocmask, SIG_SETMASK, &old, 0, 8);
    /* Our parent is now the relay: we die with it. */
    if (kill_parent > 0) {
      kill_parent = sys0(SYS_getppid);
      arm_pdeathsig(kill_parent);
    }
  }
  unsigned long dfl[4] = {0, 0, 0, 0}; /* handler SIG_DFL, flags, restorer, mask */
  if (fresh) {
    /* A multithreaded runtime (Deno, through Rust) blocks signals on some threads and
     * ignores SIGPIPE; execve keeps both. Spawn APIs reset them in the child: so do we. */
    unsigned long none = 0;
    sys4(SYS_rt_sigprocmask, SIG_SETMASK, &none, 0, 8);
    sys4(SYS_rt_sigaction, 13 /* SIGPIPE */, dfl, 0, 8);
  }
  /* Signals 32 and 33 are glibc's own (SIGCANCEL, SIGSETXID): its posix_spawn, which Deno's
   * spawn and ours go through, sets them to SIG_IGN in the child so that no handler of the
   * parent runs there, and execve keeps SIG_IGN. The program would inherit that; nsenter's
   * and docker exec's programs start with them at default. Nothing else ignores them. */
  sys4(SYS_rt_sigaction, 32, dfl, 0, 8);
  sys4(SYS_rt_sigaction, 33, dfl, 0, 8);

  /* t and Y: a session keyring of our own, as runc gives every exec ("do not inherit the
   * parent's session keyring"). Keyrings are not namespaced, and a process possesses every
   * key its session keyring holds, whatever its uid: the program - with a user namespace's
   * owner's uid, or code the target chose - read the caller's keys (root's login keyring,
   * from pam_keyinit) and could link, revoke or replace them. Before any join and before the
   * target's filter (docker's refuses keyctl); ENOSYS: a kernel without keys. */
  if (own_session || tty) {
    long r = sys2(SYS_keyctl, 1 /* KEYCTL_JOIN_SESSION_KEYRING */, 0);
    /* EPERM: a seccomp filter of ours refuses keyctl (docker's default profile, nsjoin run in
     * a container), and the program inherits it (filters are never dropped): it can neither
     * read nor revoke a key of ours. add_key, which updates a key of a keyring its caller
     * possesses, must be refused too: asked with a NULL type, which the kernel itself refuses
     * with EFAULT (key_get_type_from_user) and a filter with EPERM. */
    if (r == -EPERM && sys6(SYS_add_key, 0, 0, 0, 0, 0, 0) == -EPERM) r = 0;
    if (r < 0 && r != -ENOSYS) {
      begin();
      put("Cannot start a session keyring of our own");
      puterr(r);
      fail(125);
    }
  }
  if (from_target && target_pid <= 0) {
    begin();
    put("helper: i needs a target pid");
    fail(125);
  }
  char oom_text[16];
  if (has_letter(from_target, 'o')) {
    char ours[16];
    oom_of(target_pid, oom_text);
    oom_of(0, ours);
    int k = 0;
    while (oom_text[k] && oom_text[k] == ours[k]) k++;
    if (oom_text[k] != ours[k]) oom = oom_text;
  }
  if (oom) {
    /* Our /proc/self files belong to root while we are non-dumpable, which would refuse
     * the write to a non-root caller; nothing of the target is open yet, so for this one
     * write we may be what the caller is. */
    sys2(SYS_prctl, PR_SET_DUMPABLE, 1);
    write_self("/proc/self/oom_score_adj", oom, "oom_score_adj");
    sys2(SYS_prctl, PR_SET_DUMPABLE, 0);
  }
  /* Open everything before the first join: inside the target, host paths and even
   * /proc/self may not resolve. */
  long pidfd = -1;
  if (target_pid > 0) {
    pidfd = sys2(SYS_pidfd_open, target_pid, 0);
    if (resolve) resolve_here(target_pid, pidfd);
    if (pidfd < 0 && pidfd != -ENOSYS) {
      begin();
      put("Cannot open pid ");
      putnum((unsigned long)target_pid);
      puterr(pidfd);
      if (pidfd == -ESRCH) target_exited();
      fail(125);
    }
    /* The pidfd pins a process; the start time proves it is the one that was resolved
     * and not a process that reused its PID. */
    unsigned long st[32]; /* struct stat: st_ino is word 1 on x86_64 and aarch64 */
    int same = want_inode && pidfd >= 0 && sys2(SYS_fstat, pidfd, st) == 0
                 ? st[1] == want_inode
                 : !want_start || start_time(target_pid) == want_start;
    if (!same) {
      begin();
      put("Cannot join pid ");
      putnum((unsigned long)target_pid);
      put(": the target exited (its PID now belongs to another process)");
      last_errno = ESRCH;
      fail(125);
    }
  }
  if ((docker || user_spec) && (target_pid <= 0 || !docker)) {
    begin();
    put("helper: d and r need a target pid and d");
    fail(125);
  }
  if (docker) {
    ncg = docker_checks(docker, user_spec, &uid, &gid, groups, &ngroups, &home, cg, ncg, &cg2);
    if (user_spec) set_groups = 1;
  }
  if (only_differing) {
    if (target_pid <= 0) {
      begin();
      put("helper: b needs a target pid");
      fail(125);
    }
    mask = differing_types(mask, target_pid);
    /* Joined, the mount namespace is where the program is looked up (the caller's PATH,
     * p, is for a program from our own filesystem). */
    if (mask & CLONE_NEWNS) lookup_path = 0;
  }
  if (session_caller >= 0) session_pidfd = (int)pidfd;
  if (has_letter(from_target, 'l')) {
    limits_of(target_pid);
    copy_limits = 1;
  }
  if (has_letter(from_target, 'B') || has_letter(from_target, 'E') ||
      has_letter(from_target, 'V') || has_letter(from_target, 'm') ||
      has_letter(from_target, 'z')) {
    read_proc(target_pid, "status");
    if (has_letter(from_target, 'B')) bnd = (unsigned long)parse_num(needed_field("CapBnd"), 16, 0);
    if (has_letter(from_target, 'E')) eff = (unsigned long)parse_num(needed_field("CapEff"), 16, 0);
    if (has_letter(from_target, 'V')) {
      const char *v = needed_field("NoNewPrivs");
      if (v[0] == '1' && (v[1] == '\n' || !v[1])) nnp = 1;
    }
    if (has_letter(from_target, 'm')) umask_to = parse_num(needed_field("Umask"), 8, 0);
    const char *mode = has_letter(from_target, 'z') ? status_field("Seccomp") : 0;
    if (mode && mode[0] == '1' && (mode[1] == '\n' || !mode[1])) {
      begin();
      put("Cannot copy the seccomp filter of pid ");
      putnum((unsigned long)target_pid);
      put(": it is in strict mode");
      fail_step = "ptrace";
      last_errno = EINVAL;
      fail(125);
    }
    if (mode && mode[0] == '2' && (mode[1] == '\n' || !mode[1])) copy_seccomp = 1;
  }
  if (copy_seccomp && target_pid <= 0) {
    begin();
    put("helper: z needs a target pid");
    fail(125);
  }
  /* Read from the pinned process before joining; the check below that the pidfd still
   * reaches it covers the time this takes. */
  if (copy_seccomp) read_filters();
  if (lsm_label) write_self("/proc/self/attr/exec", lsm_label, "the LSM exec label");
  if (debug_tools) {
    if (target_pid <= 0) {
      begin();
      put("helper: T needs a target pid");
      fail(125);
    }
    debug_prepare(debug_tools, target_pid);
  }
  for (int k = 0; k < nj; k++) {
    js[k].fd = open_checked(js[k].path, O_RDONLY, NSFS_MAGIC, NSFS_MAGIC, "namespace file");
    if (own_files) check_own_file(&js[k]);
  }
  int cgfd[MAXC + 1];
  for (int k = 0; k < ncg; k++)
    cgfd[k] = open_checked(cg[k], O_WRONLY, CGROUP_SUPER_MAGIC, CGROUP2_SUPER_MAGIC, "cgroup");
  int rootfd = root ? open_or_die(root, O_PATH, "root directory") : -1;
  if (wd) refuse_fd_link(wd);
  if (wdns) refuse_fd_link(wdns);
  int wdfd = wd ? open_or_die(wd, O_PATH, "working directory") : -1;
  if (cg2) {
    /* Before the first join (the setns(pidfd, mask) below): whether we fork the program,
     * for its pid namespace, a pty, a process tree or a session (L: every program). */
    int forks = tty || tree || own_session || session_caller >= 0;
    for (int k = 0; k < nj; k++) forks |= js[k].flag == CLONE_NEWPID && !nofork;
    forks |= (mask & CLONE_NEWPID) && !nofork;
    int fd = join_cgroup_v2(cg2, forks, &kill_parent, &cg[ncg]);
    if (fd >= 0) cgfd[ncg++] = fd;
  }

  /* A user namespace whose setgroups is "deny" (unshare -r, any unprivileged user's) refuses
   * setgroups(2) inside it, so groups dropped only after joining stayed: the program, which
   * that namespace's owner may ptrace, kept the caller's supplementary groups (root's shadow,
   * adm, 0) on the host. Dropped now, where we still may; nsenter drops them before joining
   * too. The try after the joins remains for callers not allowed to here. */
  if ((drop_groups || identity) && !set_groups) {
    int user = (mask & CLONE_NEWUSER) != 0;
    for (int k = 0; k < nj; k++) user |= js[k].flag == CLONE_NEWUSER;
    if (user) sys2(SYS_setgroups, 0, 0);
  }
  /* For open_pty, before the first join (inside, /proc is the target's) and after the last
   * fork before it (H may have made us a child born in the cgroup): "self" is resolved now,
   * and names this process for good. */
  if (tty) proc_fds = open_or_die("/proc/self/fd", O_PATH | O_DIRECTORY, "our /proc/self/fd");
  if (mask) {
    long r = atomic && pidfd >= 0 ? sys2(SYS_setns, pidfd, mask) : -ENOSYS;
    if (r != 0) {
      /* No setns(pidfd) (before 5.8) or refused as a whole: one fd per namespace, which
       * also names the namespace that fails. Nothing has been joined yet. */
      for (int k = 0; k < NNS; k++) {
        if (!(mask & NS[k].flag) || nj >= MAXJ) continue;
        char path[64];
        mlen = 0;
        put("/proc/");
        putnum((unsigned long)target_pid);
        put("/ns/");
        put(NS[k].name);
        memcpy(path, msg, mlen);
        path[mlen] = 0;
        long fd = sys4(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC, 0);
        if (fd < 0) {
          begin();
          put("Cannot open the ");
          put(NS[k].name);
          put(" namespace of pid ");
          putnum((unsigned long)target_pid);
          puterr(fd);
          if (fd == -ENOENT || fd == -ESRCH) target_exited();
          fail(125);
        }
        js[nj].fd = (int)fd;
        js[nj].flag = NS[k].flag;
        js[nj].path = 0;
        js[nj].done = 0;
        nj++;
      }
    }
  }
  /* What was opened by path (the ns files, root and cwd under /proc/PID) belonged to
   * the pinned process only if its PID was not reused meanwhile: a PID is reused only
   * once its process is reaped, and the pidfd still reaching it proves it was not. */
  if (pidfd >= 0 && sys4(SYS_pidfd_send_signal, pidfd, 0, 0, 0) == -ESRCH) {
    begin();
    put("Cannot join pid ");
    putnum((unsigned long)target_pid);
    put(": the target exited");
    last_errno = ESRCH;
    fail(125);
  }
  join_all(js, nj);

  int joined_pid = (mask & CLONE_NEWPID) != 0;
  int joined_user = (mask & CLONE_NEWUSER) != 0;
  for (int k = 0; k < nj; k++) {
    if (js[k].flag == CLONE_NEWPID) joined_pid = 1;
    if (js[k].flag == CLONE_NEWUSER) joined_user = 1;
  }
  if (identity && joined_user) {
    if (uid < 0) uid = 0;
    if (gid < 0) gid = 0;
    drop_groups = 1;
  }

  if (netns) netns_mounts(netns);

  if (rootfd >= 0) {
    if (sys1(SYS_fchdir, rootfd) != 0 || sys1(SYS_chroot, ".") != 0) {
      begin();
      put("Cannot change root to ");
      put(root);
      puterr(-EPERM);
      fail(125);
    }
    sys1(SYS_chdir, "/");
    sys1(SYS_close, rootfd);
  }
  if (wdfd >= 0 && sys1(SYS_fchdir, wdfd) != 0) {
    begin();
    put("Cannot change directory to ");
    putesc(wd);
    fail(125);
  }
  if (wdfd >= 0) sys1(SYS_close, wdfd);
  if (wdns && joined_user && !wdns_as_caller && uid >= 0 && gid >= 0) {
    fs_ids_of_namespace_root(wdns);
  }
  if (wdns) chdir_inside(wdns);
  check_cwd();

  int slave = -1;
  if (tty && !debug_tools) slave = relay_pty("/dev/ptmx", relay_sock);
  /* Every step that needs privilege happens here, in this process, which stays in the
   * caller's pid namespace (setns(CLONE_NEWPID) moves only our children): a child we fork
   * is born in the target's pid namespace, visible there, and must from its first
   * instruction hold no more than the target does (see "Security" at the top). */
  if (debug_tools) debug_mounts();
  /* Our devpts, under our root (a tmpfs of ours): no path the target controls. */
  if (tty && debug_tools) slave = relay_pty("/dev/pts/ptmx", relay_sock);
  /* Writing "0" moves the writer, and a child we fork is born where we are. To a v1
   * hierarchy's tasks file it moves the calling thread alone, and the kernel then skips the
   * global cgroup_threadgroup_rwsem (cgroup_procs_write_start: `*threadgroup_locked = pid ||
   * threadgroup`), whose write lock costs an RCU grace period after idle (see
   * join_cgroup_v2); to cgroup.procs it moves the whole thread group under that lock. We are
   * single-threaded (no libc, no threads, ever), so our one thread is the whole process:
   * tasks moves all of us, for ~15 us a hierarchy instead of 7-15 ms once. */
  for (int k = 0; k < ncg; k++) {
    long r = sys3(SYS_write, cgfd[k], "0\n", 2);
    if (r < 0) {
      begin();
      put("Cannot join cgroup ");
      /* Its name is the target's choice (a delegated subtree, a cgroup namespace). */
      putesc(cg[k]);
      puterr(r);
      fail(125);
    }
  }
  if (copy_limits) set_limits();
  if (umask_to >= 0) sys1(SYS_umask, umask_to);
  /* Nothing of ours but the program's fds (0-2, K), the caller's pipe and the pty goes on:
   * not into a child, and not under a filter that could refuse close(2). */
  close_all_but(keep, nkeep, report_pipe, slave);
  /* runc's order (setns_init_linux.go): without no_new_privs installing a filter needs
   * CAP_SYS_ADMIN, so before capabilities are dropped (the filter then has to allow what
   * follows, as the container's must for runc); with it, after them. */
  if (copy_seccomp && !nnp) install_filters();
  if (bnd != ~0UL) drop_bounding(bnd);
  if (nnp) sys6(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0, 0);
  if (set_groups) {
    long r = sys2(SYS_setgroups, ngroups, groups);
    if (r != 0) {
      begin();
      put("Cannot set supplementary groups");
      puterr(r);
      if (r == -EINVAL) put(" - a group is not mapped in the target's user namespace");
      fail(125);
    }
  } else if (drop_groups) {
    long r = sys2(SYS_setgroups, 0, 0);
    /* In a user namespace whose /proc/PID/setgroups is "deny" this fails with EPERM
     * and there are no groups to drop: nsenter ignores it too. */
    if (r != 0 && r != -EPERM) {
      begin();
      put("Cannot drop supplementary groups");
      puterr(r);
      fail(125);
    }
  }
  if (gid >= 0) {
    long r = sys1(SYS_setgid, gid);
    if (r != 0) {
      begin();
      put("Cannot set group id ");
      putnum((unsigned long)gid);
      puterr(r);
      if (r == -EINVAL) put(" - it is not mapped in the target's user namespace");
      fail(125);
    }
  }
  if (uid >= 0) {
    long r = sys1(SYS_setuid, uid);
    if (r != 0) {
      begin();
      put("Cannot set user id ");
      putnum((unsigned long)uid);
      puterr(r);
      if (r == -EINVAL) put(" - it is not mapped in the target's user namespace");
      fail(125);
    }
  }
  if (eff != ~0UL) narrow_caps(eff);
  if (keepcaps) caps_to_ambient();
  /* Not dumpable again (undump), before a no_new_privs filter goes in. */
  if (!copy_seccomp || nnp) undump();
  /* With no_new_privs as late as runc installs it, but still before the fork: a child
   * without the target's filter would hold more than the target (unshare(CLONE_NEWUSER),
   * bpf... that the filter refuses), had anything got into it. */
  if (copy_seccomp && nnp) install_filters();
  if (copy_seccomp && !nnp) {
    verify_creds(bnd, eff, keepcaps, uid, gid, groups, ngroups, set_groups);
    undump();
  }
  /* Joins and credential changes clear the parent-death signal: set it again after the
   * last one (an exec of a set-uid program clears it again, as for every caller of prctl). */
  if (kill_parent > 0) arm_pdeathsig(kill_parent);

  if (session_caller >= 0) session_loop(kill_parent);
  if (tty || tree || own_session || (joined_pid && !nofork)) {
    /* setns(CLONE_NEWPID) moves only our future children, and a pty needs a relay: fork,
     * relay signals to the child and its exit status back (a signal death re-raised). */
    unsigned long set = relay_set(), old = 0;
    sys4(SYS_rt_sigprocmask, SIG_BLOCK, &set, &old, 8);
    /* The program's terminal replaces the caller's stdin, stdout and stderr here, not in the
     * child: the child is born where the target can see it (and, with CAP_SYS_PTRACE in the
     * initial user namespace, take its fds with pidfd_getfd before it could close them). */
    long r = 0;
    for (int fd = 0; tty && fd < 3 && r >= 0; fd++) r = sys3(SYS_dup3, slave, fd, 0);
    if (tty && r >= 0) relay_report = report_pipe;
    if (r < 0) {
      begin();
      put("Cannot make the pseudo-terminal the standard input and output");
      puterr(r);
      fail(125);
    }
    long child = sys6(SYS_clone, SIGCHLD, 0, 0, 0, 0, 0);
    if (child < 0) {
      begin();
      put("Cannot fork into the pid namespace");
      puterr(child);
      if (child == -ENOMEM) put(" - its init process has exited");
      if (child == -EAGAIN) put(" - the target's user has reached its process limit");
      fail(125);
    }
    if (child > 0) {
      if (slave >= 0) sys1(SYS_close, slave);
      supervises_program = 1;
      supervise(child, -1, -1, &set);
    }
    close_all_but(keep, nkeep, relay_report, -1);
    if (tty && r >= 0) {
      sys0(SYS_setsid);
      r = sys3(SYS_ioctl, 0, TIOCSCTTY, 0);
    }
    if (r < 0) {
      begin();
      put("Cannot make the pseudo-terminal the controlling terminal");
      puterr(r);
      fail(125);
    }
    sys4(SYS_rt_sigprocmask, SIG_SETMASK, &old, 0, 8);
    if ((tree || own_session) && !tty && sys0(SYS_setsid) < 0) {
      begin();
      put("Cannot start a session for the program");
      fail(125);
    }
    /* A child's parent-death signal starts cleared. Our parent as we see it now (0 when it
     * is outside our pid namespace): if it dies we are re-parented and getppid changes. */
    if (kill_parent >= 0) arm_pdeathsig(sys0(SYS_getppid));
  }
  /* The caller's pipe stays open for an execve failure, and closes when execve succeeds
   * (if a filter refuses FD_CLOEXEC, it is closed now: it never reaches the program). */
  if (errfd >= 3 && sys3(SYS_fcntl, errfd, 2 /* F_SETFD */, 1 /* FD_CLOEXEC */) != 0) {
    sys1(SYS_close, errfd);
    errfd = -1;
  }
  /* r: HOME from the container's /etc/passwd when the environment has none, last, or has it
   * empty, in its place (runc's setupUser, as the full path: _dockerHome). */
  static char *with_home[MAXE + 2];
  static char home_var[4096 + 8];
  int has_home = !home;
  for (char **e = envp; !has_home && *e; e++) has_home = starts(*e, "HOME=") && (*e)[5];
  if (!has_home) {
    int k = 0, placed = 0;
    memcpy(home_var, "HOME=", 5);
    memcpy(home_var + 5, home, slen(home) + 1);
    for (; envp[k]; k++) {
      if (k >= MAXE) too_many(MAXE, "environment variables");
      int empty = starts(envp[k], "HOME=") && !envp[k][5];
      with_home[k] = empty ? home_var : envp[k];
      placed |= empty;
    }
    if (!placed) with_home[k++] = home_var;
    with_home[k] = 0;
    envp = with_home;
  }
  static char *sorted_env[MAXE + 1];
  if (env_order) {
    for (char **e = envp; *e; e++) {
      if (!starts(*e, ORDER_VAR)) continue;
      /* Keys cannot hold '=': it separates them. */
      for (char *q = *e + slen(ORDER_VAR); *q && norder < MAXE;) {
        order[norder++] = q;
        while (*q && *q != '=') q++;
        if (*q) *q++ = 0;
      }
      break;
    }
    envp = reorder_env(envp, order, norder, sorted_env);
  }
  exec_program(prog_argv, envp);
}
