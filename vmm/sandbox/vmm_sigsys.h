// brig's own threads run under seccomp filters whose default action traps. This
// handler turns a violation into brig's final line on stderr naming the thread and
// the syscall and its --failure-file record (exit_report.h), then lets the kernel kill
// brig with SIGSYS (device processes die with brig through their parent-death signal).
#pragma once

#include <linux/filter.h>

#include <vector>

namespace brig {

// Resolves every syscall name up front (the handler may not allocate), then installs
// the handler. Call before the first filter is installed.
void install_vmm_sigsys_reporter();

// Installs `filter` on the calling thread and remembers the thread's class ("vcpu",
// "main", "ipc") for the violation report.
void install_thread_filter(const char* thread_class, const std::vector<sock_filter>& filter);

// Whether the main and IPC threads are under their filters. A vCPU thread checks it
// before its first KVM_RUN: no guest instruction may run while brig's own threads that
// talk to devices and the operator are still unfiltered.
bool supervisor_threads_filtered();

}  // namespace brig
