#include "minijail-wrapper/minijail/spawn.h"

#include "base/error.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <stdexcept>

namespace minijail {
namespace {

// struct clone_args of <linux/sched.h> (version 0, 64 bytes), declared here to keep
// that header's macros away from glibc's <sched.h>.
struct CloneArgs {
    uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
};

enum Step : int { kStepPdeathsig = 1, kStepCgroup, kStepDup, kStepDupTarget, kStepCloseRange, kStepSigmask, kStepExec };

struct ChildReport {
    int step;
    int error;
};

const char* step_name(int step) {
    switch (step) {
        case kStepPdeathsig:
            return "child: prctl(PR_SET_PDEATHSIG)";
        case kStepCgroup:
            return "child: join cgroup (write cgroup.procs)";
        case kStepDup:
            return "child: fcntl(F_DUPFD_CLOEXEC)";
        case kStepDupTarget:
            return "child: dup2";
        case kStepCloseRange:
            return "child: close_range";
        case kStepSigmask:
            return "child: sigprocmask";
        default:
            return "child";
    }
}

// Child side: async-signal-safe only.
[[noreturn]] void child_fail(int report_fd, int step, int error) {
    ChildReport r{step, error};
    ssize_t ignored = write(report_fd, &r, sizeof r);
    (void)ignored;
    _exit(127);
}

struct Prepared {
    const char* path;
    std::vector<char*> argv;
    char* envp[1] = {nullptr};
    std::vector<int> sources;  // [0..2]: stdin, stdout, stderr; then keep_fds
    std::vector<int> moved;    // scratch for the child, same size
    std::vector<int> cgroups;  // cgroup.procs fds to join
    int dup_base;
    int report_fd;
    int parent_pidfd;
};

[[noreturn]] void run_child(Prepared& p) {
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) child_fail(p.report_fd, kStepPdeathsig, errno);
    // getppid() is 0 in a new PID namespace, so ask the parent's pidfd instead.
    pollfd pfd{p.parent_pidfd, POLLIN, 0};
    if (poll(&pfd, 1, 0) != 0) _exit(127);
    // Before the fds move: these are the parent's numbers.
    for (int fd : p.cgroups)
        if (write(fd, "0", 1) != 1) child_fail(p.report_fd, kStepCgroup, errno);

    // Move every source above all targets first, so no dup2 clobbers a later source.
    int report = fcntl(p.report_fd, F_DUPFD_CLOEXEC, p.dup_base);
    if (report < 0) child_fail(p.report_fd, kStepDup, errno);
    for (size_t i = 0; i < p.sources.size(); ++i) {
        p.moved[i] = fcntl(p.sources[i], F_DUPFD_CLOEXEC, p.dup_base);
        if (p.moved[i] < 0) child_fail(report, kStepDup, errno);
    }
    for (size_t i = 0; i < p.sources.size(); ++i) {
        // sources[i] becomes fd i: 0, 1, 2, then the kept fds from 3 on.
        if (dup2(p.moved[i], static_cast<int>(i)) < 0) child_fail(report, kStepDupTarget, errno);
    }
    // Everything else closes at exec; the report pipe must survive until then.
    if (syscall(SYS_close_range, static_cast<unsigned>(p.sources.size()), ~0U, CLOSE_RANGE_CLOEXEC) != 0)
        child_fail(report, kStepCloseRange, errno);

    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; ++sig) sigaction(sig, &dfl, nullptr);  // EINVAL for KILL, STOP, glibc's own
    sigset_t none;
    sigemptyset(&none);
    if (sigprocmask(SIG_SETMASK, &none, nullptr) != 0) child_fail(report, kStepSigmask, errno);

    execve(p.path, p.argv.data(), p.envp);
    child_fail(report, kStepExec, errno);
}

}  // namespace

SpawnedProcess spawn_in_new_pid_namespace(const SpawnSpec& spec) {
    if (spec.executable.empty() || spec.executable[0] != '/')
        throw std::invalid_argument("spawn: the executable must be an absolute path: '" + spec.executable + "'");
    if (spec.argv.empty()) throw std::invalid_argument("spawn: argv is empty");

    // Everything the child needs is prepared here: it may not allocate. The parent's
    // fds are owned (UniqueFd) so that every way out of here closes them; the child
    // never returns, so it never runs their destructors.
    Prepared p;
    p.path = spec.executable.c_str();
    for (const auto& a : spec.argv) p.argv.push_back(const_cast<char*>(a.c_str()));
    p.argv.push_back(nullptr);

    base::UniqueFd devnull;
    if (spec.stdin_fd < 0 || spec.stdout_fd < 0 || spec.stderr_fd < 0) {
        devnull.reset(open("/dev/null", O_RDWR | O_CLOEXEC));
        if (!devnull) base::throw_errno("open /dev/null");
    }
    for (int fd : {spec.stdin_fd, spec.stdout_fd, spec.stderr_fd}) p.sources.push_back(fd < 0 ? devnull.get() : fd);
    for (int fd : spec.keep_fds) {
        if (fd < 0) throw std::invalid_argument("spawn: negative fd in keep_fds");
        p.sources.push_back(fd);
    }
    p.moved.resize(p.sources.size());
    p.cgroups = spec.join_cgroup_fds;

    int pipe_fds[2];
    if (pipe2(pipe_fds, O_CLOEXEC) != 0) base::throw_errno("pipe2");
    base::UniqueFd report_read(pipe_fds[0]), report_write(pipe_fds[1]);
    p.report_fd = report_write.get();
    base::UniqueFd parent_pidfd(static_cast<int>(syscall(SYS_pidfd_open, getpid(), 0)));
    if (!parent_pidfd) base::throw_errno("pidfd_open");
    p.parent_pidfd = parent_pidfd.get();
    int highest = std::max(
        {report_read.get(), report_write.get(), parent_pidfd.get(), devnull.get(), static_cast<int>(p.sources.size())});
    for (int fd : p.sources) highest = std::max(highest, fd);
    p.dup_base = highest + 1;

    int raw_pidfd = -1;
    CloneArgs args{};
    args.flags = CLONE_NEWPID | CLONE_PIDFD;
    args.pidfd = reinterpret_cast<uintptr_t>(&raw_pidfd);
    args.exit_signal = SIGCHLD;
    long pid = syscall(SYS_clone3, &args, sizeof args);
    if (pid == 0) run_child(p);
    const int clone_err = errno;
    base::UniqueFd pidfd(raw_pidfd);

    report_write.reset();  // the child's copy is the only one left: its exec or exit is our EOF
    parent_pidfd.reset();
    devnull.reset();
    if (pid < 0) base::throw_errno("clone3", clone_err);

    ChildReport report{};
    size_t got = 0;
    while (got < sizeof report) {
        ssize_t n = read(report_read.get(), reinterpret_cast<char*>(&report) + got, sizeof report - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += static_cast<size_t>(n);
    }
    report_read.reset();
    if (got == 0) return {static_cast<pid_t>(pid), std::move(pidfd)};  // execve succeeded

    // The child failed (or exited before exec because the parent died); reap it.
    while (waitpid(static_cast<pid_t>(pid), nullptr, 0) < 0 && errno == EINTR) {}
    pidfd.reset();
    if (got != sizeof report) throw std::runtime_error("spawn " + spec.executable + ": short report from the child");
    if (report.step == kStepExec) base::throw_errno("exec " + spec.executable, report.error);
    base::throw_errno(step_name(report.step), report.error);
}

}  // namespace minijail
