// crosvm's --serial: COM1..COM4 and several virtio consoles, each its own jailed
// device, to stdout, files, sinks and unix sockets brig connects, with the test
// guest's mode=serial-ports writing a line on each. Android's layout among them:
// ttyS0 the console, ttyS1 the guest's failure reason, hvc0..hvc2 each its own.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "base/unique_fd.h"
#include "tests/integration/brig_process.h"
#include "tests/integration/fake_syslog.h"
#include "tests/integration/temp_files.h"

using namespace brig::test;
using Catch::Matchers::Contains;

namespace {

std::string read_file(const std::filesystem::path& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

// A listening socket for --serial type=unix: accepts one connection, writes `send`
// to it, and keeps what it reads until the peer closes.
struct SocketPeer {
    SocketPeer(const std::filesystem::path& path, std::string send) {
        listener = base::UniqueFd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
        sockaddr_un address{};
        address.sun_family = AF_UNIX;
        std::strcpy(address.sun_path, path.c_str());
        REQUIRE(::bind(listener.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
        REQUIRE(::listen(listener.get(), 1) == 0);
        thread = std::thread([this, send = std::move(send)] {
            base::UniqueFd peer(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
            if (!peer) return;
            if (!send.empty() && ::write(peer.get(), send.data(), send.size()) != ssize_t(send.size())) return;
            char buf[4096];
            for (ssize_t n; (n = ::read(peer.get(), buf, sizeof buf)) > 0;) received.append(buf, size_t(n));
        });
    }
    ~SocketPeer() {
        ::shutdown(listener.get(), SHUT_RDWR);
        if (thread.joinable()) thread.join();
    }
    std::string take() {
        if (thread.joinable()) thread.join();
        return received;
    }
    base::UniqueFd listener;
    std::thread thread;
    std::string received;
};

}  // namespace

TEST_CASE("--serial: Android's layout, ttyS0 the console, ttyS1 the failure reason, hvc0..2 each its own",
          "[serial-ports]") {
    TempDir dir;
    const auto reason = dir.path / "ttyS1", hvc0 = dir.path / "hvc0", hvc2 = dir.path / "hvc2";
    BrigRun run{{"run", "--kernel", test_guest(), "--cmdline", "mode=serial-ports reason=watchdog-bark", "--mem", "64",
                 "--serial", "type=stdout,hardware=serial,num=1,console=true", "--serial",
                 "type=file,path=" + reason.string() + ",hardware=serial,num=2", "--serial",
                 "type=file,path=" + hvc0.string() + ",hardware=virtio-console,num=1", "--serial",
                 "type=sink,hardware=virtio-console,num=2", "--serial",
                 "type=file,path=" + hvc2.string() + ",hardware=virtio-console,num=3"}};
    run.timeout = std::chrono::seconds(60);
    const auto r = run_brig(run);
    require_exit(r, 0);
    CHECK_THAT(r.out, Contains("cmdline: mode=serial-ports reason=watchdog-bark console=ttyS0\n"));
    CHECK_THAT(r.out, Contains("serial-ports: ttyS1 present\n"));
    CHECK_THAT(r.out, !Contains("ttyS2 present"));  // only the ports given are there
    for (const char* sent : {"hvc0 sent", "hvc1 sent", "hvc2 sent"}) CHECK_THAT(r.out, Contains(sent));
    CHECK_THAT(r.out, Contains("serial-ports: done"));
    CHECK(read_file(reason) == "ttyS1: hello\nttyS1: reason=watchdog-bark\n");
    CHECK(read_file(hvc0) == "hvc0: hello\n");
    CHECK(read_file(hvc2) == "hvc2: hello\n");
    CHECK(r.out.find("ttyS1: hello") == std::string::npos);  // each port's bytes only where it goes
}

TEST_CASE("--serial type=unix: brig connects COM3 and COM4 to listening sockets, both ways", "[serial-ports]") {
    TempDir dir;
    SocketPeer com4(dir.path / "com4.sock", "");
    const auto r =
        run_brig({{"run", "--kernel", test_guest(), "--cmdline", "mode=serial-ports", "--mem", "64", "--serial",
                   "type=sink,num=3", "--serial", "type=unix,path=" + (dir.path / "com4.sock").string() + ",num=4"}});
    require_exit(r, 0);
    CHECK_THAT(r.out, Contains("serial-ports: ttyS2 present\n"));
    CHECK_THAT(r.out, Contains("serial-ports: ttyS3 present\n"));
    CHECK(com4.take() == "ttyS3: hello\n");

    // COM1 on a socket: what the peer writes is the guest's input, and its echo comes back.
    SocketPeer com1(dir.path / "com1.sock", "brig-over-unix\nq");
    BrigRun echo{{"run", "--kernel", test_guest(), "--cmdline", "mode=echo", "--mem", "64", "--serial",
                  "type=unix,path=" + (dir.path / "com1.sock").string()}};
    echo.timeout = std::chrono::seconds(60);
    const auto e = run_brig(echo);
    require_exit(e, 0);
    const std::string seen = com1.take();
    CHECK_THAT(seen, Contains("echo: ready"));
    CHECK_THAT(seen, Contains("brig-over-unix"));
    CHECK_THAT(seen, Contains("echo: done"));
}

TEST_CASE("--serial stdin=true gives the operator's input to hvc0; bad layouts are one line and exit 35",
          "[serial-ports]") {
    BrigRun run{{"run", "--kernel", test_guest(), "--cmdline", "mode=console-echo", "--mem", "64", "--serial",
                 "type=stdout,stdin=false", "--serial", "type=stdout,hardware=virtio-console,num=1,stdin=true"}};
    run.stdin_data = "ping-by-flag";
    run.timeout = std::chrono::seconds(60);
    const auto r = run_brig(run);
    require_exit(r, 0);
    CHECK_THAT(r.out, Contains("hvc0 got: ping-by-flag"));

    TempDir dir;
    struct Case {
        std::string serial;
        std::string says;
    };
    const Case cases[] = {
        {"type=unix,path=" + (dir.path / "nobody.sock").string() + ",num=2", "--serial: cannot connect to "},
        {"type=sink,hardware=virtio-console,num=2", "--serial: hvc1 without hvc0"},
        {"type=file,num=4", "--serial: 'type=file,num=4' is not one of"},
    };
    for (const auto& c : cases) {
        INFO(c.serial);
        const auto bad = run_brig({guest_args("poweroff", {"--serial", c.serial})});
        CHECK(bad.exit_code == 35);
        CHECK(bad.err_lines().size() == 1);
        CHECK_THAT(bad.err, Contains(c.says));
    }
}

TEST_CASE("--serial type=syslog: a port's lines to syslog, each tagged with the port", "[serial-ports]") {
    TempDir dir;
    FakeSyslog syslog(dir.path / "log");
    BrigRun run{{"run", "--kernel", test_guest(), "--cmdline", "mode=serial-ports reason=oom-killed", "--mem", "64",
                 "--serial", "type=syslog,num=2", "--serial", "type=syslog,hardware=virtio-console,num=1",
                 "--syslog-tag", "vm-3"}};
    run.timeout = std::chrono::seconds(60);
    run.in_child = use_syslog(syslog);
    const auto r = run_brig(run);
    require_exit(r, 0);
    const auto lines = syslog.take();
    auto has = [&lines](const std::string& line) { return std::find(lines.begin(), lines.end(), line) != lines.end(); };
    CHECK(has("<14>vm-3-ttyS1: ttyS1: hello"));
    CHECK(has("<14>vm-3-ttyS1: ttyS1: reason=oom-killed"));
    CHECK(has("<14>vm-3-hvc0: hvc0: hello"));
    CHECK(r.out.find("ttyS1: hello") == std::string::npos);

    FakeSyslog gone(dir.path / "gone");
    gone.fd.reset();
    BrigRun refused{guest_args("poweroff", {"--serial", "type=syslog,num=2"})};
    refused.in_child = use_syslog(gone);
    const auto bad = run_brig(refused);
    CHECK(bad.exit_code == 35);
    CHECK(bad.err_lines().size() == 1);
    CHECK_THAT(bad.err, Contains("--serial: cannot reach syslog at"));
}
