// Turns a seccomp violation into a report the VMM can read. The filter's default
// action is SECCOMP_RET_TRAP: the kernel sends SIGSYS, this handler writes the
// syscall number and arguments to the report fd, then repeats the syscall. With
// SIGSYS blocked inside the handler the kernel now forces the default action, so
// the process dies by SIGSYS as if there were no handler, and the VMM sees both the
// signal and the report.
#pragma once

namespace brig::devices {

// `report_fd` is the device's end of a SOCK_SEQPACKET socketpair the VMM reads (the
// report is one message, sent with sendmsg); it stays open for the process's life.
// Install before the filter is loaded.
void install_sigsys_reporter(int report_fd);

}  // namespace brig::devices
