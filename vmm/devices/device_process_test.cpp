// The hand-over of a device's seccomp listener (receive_listener_handover): the one
// message brig reads from a device's report socket. The test plays a hostile device on
// the other end of a socketpair; nothing but the tag with exactly one real listener
// may pass, and no fd the device sends may stay open in brig.
#include "vmm/devices/device_process.h"

#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "ipc/device_contract.h"

using namespace brig;
using namespace std::chrono_literals;

namespace {

const std::string kTag(ipc::device_contract::kListenerTag);
const std::string kNotListener = "sent something other than its seccomp listener";

// brig's end (non-blocking, as DeviceProcess::spawn makes it) and the device's end of a
// report socket.
struct ReportSocket {
    base::UniqueFd brig_end, device_end;
    ReportSocket() {
        int sv[2];
        REQUIRE(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
        brig_end.reset(sv[0]);
        device_end.reset(sv[1]);
        REQUIRE(fcntl(brig_end.get(), F_SETFL, O_NONBLOCK) == 0);
    }
    ListenerHandover receive(std::chrono::milliseconds timeout = 2000ms) {
        return receive_listener_handover(brig_end.get(), "test-device", timeout);
    }
};

void send_message(int socket, std::string_view payload, const std::vector<int>& fds) {
    iovec iov{const_cast<char*>(payload.data()), payload.size()};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    std::vector<char> control(CMSG_SPACE(sizeof(int) * fds.size()));
    if (!fds.empty()) {
        msg.msg_control = control.data();
        msg.msg_controllen = control.size();
        cmsghdr* c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
        std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
    }
    REQUIRE(sendmsg(socket, &msg, 0) == static_cast<ssize_t>(payload.size()));
}

// A real seccomp listener: a short-lived thread installs a filter that allows every
// syscall, with SECCOMP_FILTER_FLAG_NEW_LISTENER (only that thread is filtered).
base::UniqueFd make_seccomp_listener() {
    int fd = -1;
    std::thread([&fd] {
        sock_filter allow = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
        sock_fprog prog{1, &allow};
        fd = static_cast<int>(syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog));
    }).join();
    REQUIRE(fd >= 0);
    return base::UniqueFd(fd);
}

// A pipe whose read end tells whether every copy of its write end is closed: read()
// gives EOF then, EAGAIN while a copy (one brig received) is still open somewhere.
struct Pipe {
    base::UniqueFd read_end, write_end;
    Pipe() {
        int p[2];
        REQUIRE(pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0);
        read_end.reset(p[0]);
        write_end.reset(p[1]);
    }
    bool all_writers_closed() {
        write_end.reset();
        char c;
        return ::read(read_end.get(), &c, 1) == 0;
    }
};

bool is_seccomp_listener(int fd) {
    char target[64] = {};
    const ssize_t n = readlink(("/proc/self/fd/" + std::to_string(fd)).c_str(), target, sizeof target - 1);
    return n > 0 && std::string_view(target, static_cast<size_t>(n)) == "anon_inode:seccomp notify";
}

}  // namespace

TEST_CASE("listener hand-over: the tag with one seccomp listener is taken", "[device_process]") {
    ReportSocket s;
    base::UniqueFd listener = make_seccomp_listener();
    send_message(s.device_end.get(), kTag, {listener.get()});
    ListenerHandover got = s.receive();
    CHECK(got.refusal.empty());
    REQUIRE(got.listener);
    CHECK(got.listener.get() != listener.get());
    CHECK(is_seccomp_listener(got.listener.get()));
    CHECK((fcntl(got.listener.get(), F_GETFD) & FD_CLOEXEC) != 0);  // never reaches a child
}

TEST_CASE("listener hand-over: the tag with no fd is refused", "[device_process]") {
    ReportSocket s;
    send_message(s.device_end.get(), kTag, {});
    ListenerHandover got = s.receive();
    CHECK_FALSE(got.listener);
    CHECK(got.refusal == kNotListener);
}

TEST_CASE("listener hand-over: two fds are refused, and both are closed", "[device_process]") {
    ReportSocket s;
    base::UniqueFd listener = make_seccomp_listener();
    Pipe extra;
    send_message(s.device_end.get(), kTag, {listener.get(), extra.write_end.get()});
    ListenerHandover got = s.receive();
    CHECK_FALSE(got.listener);
    CHECK(got.refusal == kNotListener);
    CHECK(extra.all_writers_closed());

    // Two real listeners are no better than one listener and something else.
    ReportSocket t;
    base::UniqueFd second = make_seccomp_listener();
    send_message(t.device_end.get(), kTag, {listener.get(), second.get()});
    got = t.receive();
    CHECK_FALSE(got.listener);
    CHECK(got.refusal == kNotListener);
}

TEST_CASE("listener hand-over: a real listener under the wrong text is refused", "[device_process]") {
    base::UniqueFd listener = make_seccomp_listener();
    for (const std::string& text : {std::string("seccomp-listenes"), std::string("seccomp-listene"), kTag + "!",
                                    kTag + std::string(1, '\0'), std::string("SECCOMP-LISTENER"), std::string("x")}) {
        INFO("text: " << text);
        ReportSocket s;
        send_message(s.device_end.get(), text, {listener.get()});
        ListenerHandover got = s.receive();
        CHECK_FALSE(got.listener);
        CHECK(got.refusal == kNotListener);
    }
}

TEST_CASE("listener hand-over: an fd that is not a seccomp listener is refused and closed", "[device_process]") {
    ReportSocket s;
    Pipe pipe;
    send_message(s.device_end.get(), kTag, {pipe.write_end.get()});
    ListenerHandover got = s.receive();
    CHECK_FALSE(got.listener);
    CHECK(got.refusal == kNotListener);
    CHECK(pipe.all_writers_closed());

    // Nor is a socket, or the report socket itself.
    ReportSocket t;
    send_message(t.device_end.get(), kTag, {t.device_end.get()});
    got = t.receive();
    CHECK_FALSE(got.listener);
    CHECK(got.refusal == kNotListener);
}

TEST_CASE("listener hand-over: a closed socket is refused", "[device_process]") {
    ReportSocket s;
    s.device_end.reset();
    ListenerHandover got = s.receive();
    CHECK_FALSE(got.listener);
    CHECK(got.refusal == "closed its report socket before sending its seccomp listener");

    // An empty message reads as the same end; the fd it carried is closed all the same.
    ReportSocket t;
    Pipe pipe;
    send_message(t.device_end.get(), "", {pipe.write_end.get()});
    got = t.receive();
    CHECK_FALSE(got.listener);
    CHECK_FALSE(got.refusal.empty());
    CHECK(pipe.all_writers_closed());
}

TEST_CASE("listener hand-over: an oversized message is refused", "[device_process]") {
    base::UniqueFd listener = make_seccomp_listener();
    SECTION("the tag followed by more text than the payload buffer holds (MSG_TRUNC)") {
        ReportSocket s;
        send_message(s.device_end.get(), kTag + std::string(4096, 'A'), {listener.get()});
        ListenerHandover got = s.receive();
        CHECK_FALSE(got.listener);
        CHECK(got.refusal == kNotListener);
    }
    SECTION("more fds than the control buffer holds (MSG_CTRUNC); those that arrived are closed") {
        ReportSocket s;
        Pipe pipe;
        std::vector<int> fds{listener.get()};
        for (int i = 0; i < 16; ++i) fds.push_back(pipe.write_end.get());
        send_message(s.device_end.get(), kTag, fds);
        ListenerHandover got = s.receive();
        CHECK_FALSE(got.listener);
        CHECK(got.refusal == kNotListener);
        CHECK(pipe.all_writers_closed());
    }
}

TEST_CASE("listener hand-over: silence ends at the deadline; a bad first message is final", "[device_process]") {
    ReportSocket s;
    const auto start = std::chrono::steady_clock::now();
    ListenerHandover got = s.receive(100ms);
    const auto took = std::chrono::steady_clock::now() - start;
    CHECK_FALSE(got.listener);
    CHECK(got.refusal == "sent no seccomp listener within 100 ms");
    CHECK(took >= 90ms);  // poll()'s timeout is whole milliseconds, cut down
    CHECK(took < 1000ms);

    // No second chance: a wrong message first, then a good one, is still refused.
    ReportSocket t;
    base::UniqueFd listener = make_seccomp_listener();
    send_message(t.device_end.get(), "hello", {});
    send_message(t.device_end.get(), kTag, {listener.get()});
    got = t.receive();
    CHECK_FALSE(got.listener);
    CHECK(got.refusal == kNotListener);
}
