// Hands the device's seccomp user-notification listener to brig (--seccomp=log and
// --seccomp=learn). brig-device installs its filter with NEW_LISTENER, then sends the
// listener over the report socket (fd 5, a SOCK_SEQPACKET socketpair) with
// SCM_RIGHTS, as one message whose payload is device_contract::kListenerTag.
//
// Header-only, and careful: between the filter install and this sendmsg, nobody holds
// the listener but the device itself, so any other syscall would block forever in the
// kernel waiting for an answer. This function therefore makes exactly one syscall,
// sendmsg (which the learn filter allows for fd 5 only, and every device policy
// allows), and allocates nothing.
#pragma once

#include <sys/socket.h>
#include <sys/uio.h>

#include <cstring>

#include "ipc/device_contract.h"

namespace brig::devices {

// Returns false if the sendmsg failed; the caller can then only wait for brig to
// give up on it (any further syscall blocks).
inline bool send_seccomp_listener(int report_fd, int listener) {
    constexpr auto tag = ipc::device_contract::kListenerTag;
    char payload[tag.size()];
    std::memcpy(payload, tag.data(), sizeof payload);  // no syscall, no allocation
    iovec iov{payload, sizeof payload};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(cmsg), &listener, sizeof listener);
    return ::sendmsg(report_fd, &msg, MSG_NOSIGNAL) == static_cast<ssize_t>(sizeof payload);
}

}  // namespace brig::devices
