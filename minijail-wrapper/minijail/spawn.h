// Starting a device process: fork+exec in a new PID namespace, from a multi-threaded
// parent. The child runs only async-signal-safe code between clone and execve.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "base/unique_fd.h"

namespace minijail {

struct SpawnSpec {
    std::string executable;         // absolute path
    std::vector<std::string> argv;  // argv[0] included
    std::vector<int> keep_fds;      // become fds 3, 4, 5, ... in order; every other fd is closed
    // The child's 0, 1 and 2: an open fd of the parent (dup'ed), or -1 for /dev/null.
    // stderr is inherited by default so the device can log.
    int stdin_fd = -1, stdout_fd = -1, stderr_fd = 2;
    // cgroup.procs files (open for writing) the child joins, by writing "0", before
    // anything else: the program never runs outside these cgroups.
    std::vector<int> join_cgroup_fds;
};

struct SpawnedProcess {
    pid_t pid = -1;        // in the caller's PID namespace; the child sees itself as pid 1
    base::UniqueFd pidfd;  // CLOEXEC
};

// clone3(CLONE_NEWPID | CLONE_PIDFD), then in the child: PR_SET_PDEATHSIG(SIGKILL),
// exit if the parent process already died, join the cgroups, fds set up, every signal disposition
// reset and the signal mask emptied, execve with an empty environment.
// The parent-death signal fires when the *thread* that called this exits, so call it
// from a thread that lives as long as the child should (e.g. the main thread).
// Throws base::SystemError: "exec PATH: ENOENT (No such file or directory)" when execve
// fails (the child's errno comes back through a CLOEXEC pipe), or "STEP: ..." for
// another failed step in the child or parent. The failed child has been reaped.
SpawnedProcess spawn_in_new_pid_namespace(const SpawnSpec& spec);

}  // namespace minijail
