// The TAP checks, against real TAPs made in a network namespace of a forked child, so
// that nothing touches the host's interfaces.
#include "vmm/net/tap.h"

#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <functional>
#include <string>

#include "vmm/error.h"

using brig::NetOption;
using brig::net::mac_for_tap;
using brig::net::open_tap;

namespace {

// A TAP (or TUN) attached on a new fd, with these flags; -1 on failure.
int make_tun(const char* name, unsigned flags) {
    const int fd = ::open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    if (fd < 0) return -1;
    ifreq request{};
    std::strncpy(request.ifr_name, name, IFNAMSIZ - 1);
    request.ifr_flags = static_cast<short>(flags);
    if (::ioctl(fd, TUNSETIFF, &request) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

// Runs `body` in a child in a network namespace of its own; returns what it printed
// (one line per outcome), or a line saying why it could not run.
std::string in_new_netns(const std::function<std::string()>& body) {
    int out[2];
    REQUIRE(::pipe(out) == 0);
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        ::close(out[0]);
        std::string result = ::unshare(CLONE_NEWNET) == 0 ? body() : "cannot unshare CLONE_NEWNET\n";
        [[maybe_unused]] ssize_t n = ::write(out[1], result.data(), result.size());
        _exit(0);
    }
    ::close(out[1]);
    std::string text;
    char buf[512];
    ssize_t n;
    while ((n = ::read(out[0], buf, sizeof buf)) > 0) text.append(buf, static_cast<size_t>(n));
    ::close(out[0]);
    int status = 0;
    ::waitpid(child, &status, 0);
    return text;
}

std::string outcome(const std::function<void()>& attempt) {
    try {
        attempt();
        return "ok\n";
    } catch (const brig::InvalidArgument& e) {
        return std::string(e.what()) + "\n";
    }
}

NetOption by_name(const char* name) { return NetOption{std::string(name), std::nullopt, std::nullopt}; }
NetOption by_fd(int fd) { return NetOption{std::nullopt, fd, std::nullopt}; }

}  // namespace

TEST_CASE("the MAC of a TAP without mac= is stable, unicast and locally administered", "[tap]") {
    const auto a = mac_for_tap("tap0"), b = mac_for_tap("tap0"), c = mac_for_tap("tap1");
    CHECK(a == b);
    CHECK_FALSE(a == c);
    CHECK_FALSE(a.is_multicast());
    CHECK((a.bytes[0] & 0x02) != 0);
    CHECK_FALSE(c.is_multicast());
}

TEST_CASE("a TAP that does not exist, or an fd that is not one, is refused in one line", "[tap]") {
    CHECK_THROWS_WITH(open_tap(by_name("brignosuchtap")), Catch::Contains("--net: TAP brignosuchtap does not exist"));
    CHECK_THROWS_WITH(open_tap(by_fd(987)), Catch::Contains("--net: tap-fd=987: fd 987 is not open"));
    int p[2];
    REQUIRE(::pipe(p) == 0);
    CHECK_THROWS_WITH(open_tap(by_fd(p[0])), Catch::Contains("is not a TAP"));
    ::close(p[0]);
    ::close(p[1]);
}

TEST_CASE("TAPs in a namespace of their own: attached by name, adopted as an fd, or refused", "[tap]") {
    REQUIRE(::access("/dev/net/tun", R_OK | W_OK) == 0);
    const std::string result = in_new_netns([] {
        std::string r;
        // A persistent TAP made with vnet_hdr, then attached by name and checked.
        const int maker = make_tun("brigt0", IFF_TAP | IFF_NO_PI);
        if (maker < 0 || ::ioctl(maker, TUNSETPERSIST, 1) != 0) return std::string("cannot make brigt0\n");
        ::close(maker);
        r += "name: " + outcome([] {
                 auto tap = open_tap(by_name("brigt0"));
                 if (tap.name != "brigt0" || !(::fcntl(tap.fd.get(), F_GETFL) & O_NONBLOCK))
                     throw brig::InvalidArgument("bad");
             });
        // Busy: attached elsewhere already.
        const int holder = make_tun("brigt0", IFF_TAP | IFF_NO_PI | IFF_VNET_HDR);
        r += "busy: " + outcome([] { open_tap(by_name("brigt0")); });
        ::close(holder);
        // Adopted: the caller's fd is closed, brig's copy works.
        const int passed = make_tun("brigt1", IFF_TAP | IFF_NO_PI | IFF_VNET_HDR);
        r += "fd: " + outcome([passed] {
                 auto tap = open_tap(by_fd(passed));
                 if (tap.name != "brigt1" || ::fcntl(passed, F_GETFD) != -1) throw brig::InvalidArgument("bad");
             });
        const int no_vnet = make_tun("brigt2", IFF_TAP | IFF_NO_PI);
        r += "no-vnet: " + outcome([no_vnet] { open_tap(by_fd(no_vnet)); });
        const int tun = make_tun("brigt3", IFF_TUN | IFF_NO_PI | IFF_VNET_HDR);
        r += "tun-fd: " + outcome([tun] { open_tap(by_fd(tun)); });
        const int tun_persistent = make_tun("brigt4", IFF_TUN | IFF_NO_PI);
        ::ioctl(tun_persistent, TUNSETPERSIST, 1);
        ::close(tun_persistent);
        r += "tun-name: " + outcome([] { open_tap(by_name("brigt4")); });
        r += "lo: " + outcome([] { open_tap(by_name("lo")); });
        return r;
    });
    INFO(result);
    CHECK_THAT(result, Catch::Contains("name: ok\n"));
    CHECK_THAT(result, Catch::Contains("busy: --net: TAP brigt0 is already in use by another process\n"));
    CHECK_THAT(result, Catch::Contains("fd: ok\n"));
    CHECK_THAT(result, Catch::Contains("no-vnet: --net: tap-fd=") &&
                           Catch::Contains("TAP brigt2 was attached without IFF_NO_PI and IFF_VNET_HDR"));
    CHECK_THAT(result, Catch::Contains("tun-fd: --net: tap-fd=") && Catch::Contains("brigt3 is a TUN, not a TAP"));
    CHECK_THAT(result, Catch::Contains("tun-name: --net: brigt4 is not a single-queue TAP interface"));
    CHECK_THAT(result, Catch::Contains("lo: --net: lo is not a single-queue TAP interface"));
}
