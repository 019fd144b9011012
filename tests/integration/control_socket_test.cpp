// brig's control socket (brig run --socket) driven by brig's own client commands,
// against the test guest's mode=spin (a line every 500 ms), every filter installed.
#include <signal.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <thread>

#include "base/unique_fd.h"
#include "tests/integration/brig_process.h"
#include "tests/integration/temp_files.h"

using namespace brig::test;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;
using Clock = std::chrono::steady_clock;

namespace {

size_t count(const std::string& text, const std::string& what) {
    size_t n = 0;
    for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
}

BrigResult client(const std::string& verb, const std::string& socket) {
    BrigRun run{{verb, socket}};
    run.timeout = std::chrono::seconds(10);
    return run_brig(run);
}

// A unix socket connected to `path` (or invalid).
base::UniqueFd raw_connect(const std::string& path) {
    base::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strcpy(address.sun_path, path.c_str());
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) return {};
    return fd;
}

}  // namespace

TEST_CASE("control socket: status, suspend and resume (each refused when it makes no sense), then stop",
          "[control-socket]") {
    TempDir dir;
    TempFile failure;
    const std::string sock = (dir.path / "vm.sock").string();
    BrigRun run{guest_args("spin", {"--socket", sock, "--failure-file", failure.path})};
    run.timeout = std::chrono::seconds(60);
    enum { Running, Resumed, Stopped } phase = Running;
    size_t lines_at_suspend = 0;
    Clock::time_point resumed_at;
    run.on_output = [&](const std::string& out, pid_t) {
        if (phase == Running && out.find("spin: 1\n") != std::string::npos) {
            CHECK((std::filesystem::status(sock).permissions() & std::filesystem::perms::all) ==
                  (std::filesystem::perms::owner_read | std::filesystem::perms::owner_write));
            const auto status = client("status", sock);
            INFO("status: " << status.out << status.err);
            CHECK(status.exit_code == 0);
            CHECK_THAT(status.out, StartsWith("{\"state\":\"running\",\"uptime_ms\":"));
            CHECK_THAT(status.out, Contains("\"vcpus\":1,\"memory_bytes\":67108864,\"vsock_cid\":null"));
            CHECK_THAT(status.out, Contains("{\"name\":\"serial\",\"kind\":\"serial\",\"pid\":"));
            CHECK_THAT(status.out, Contains("\"kind\":\"virtio-rng\""));
            const auto refused = client("resume", sock);
            CHECK(refused.exit_code == 1);
            CHECK(refused.err == "brig: resume: the VM is running, not suspended\n");

            CHECK(client("suspend", sock).exit_code == 0);
            lines_at_suspend = count(out, "spin: ");
            const auto twice = client("suspend", sock);
            CHECK(twice.exit_code == 1);
            CHECK(twice.err == "brig: suspend: the VM is already suspended\n");
            CHECK_THAT(client("status", sock).out, StartsWith("{\"state\":\"paused\""));
            // Three lines' worth of time, suspended.
            std::this_thread::sleep_for(std::chrono::milliseconds(1500));
            resumed_at = Clock::now();
            CHECK(client("resume", sock).exit_code == 0);
            phase = Resumed;
        } else if (phase == Resumed) {
            // At most the line printed between this output's snapshot and the suspend,
            // and the first after the resume; a guest that ran on would have printed 3 more.
            // Output without a new line (the rest of one already counted) decides nothing.
            const size_t after = count(out, "spin: ") - lines_at_suspend;
            if (after == 0) return;
            INFO("lines " << after << ", the first "
                          << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - resumed_at).count()
                          << " ms after resume");
            CHECK(after <= 2);
            CHECK(client("stop", sock).exit_code == 0);
            phase = Stopped;
        }
    };
    const auto r = run_brig(run);
    INFO("stderr:\n" << r.err);
    CHECK(phase == Stopped);
    REQUIRE_FALSE(r.timed_out);
    CHECK(r.exit_code == 0);
    CHECK(failure.content() == "SHUTDOWN\n");
    CHECK_THAT(r.err, Contains("brig: SHUTDOWN: stopped by brig stop on the control socket"));
}

TEST_CASE("control socket: --suspended runs no guest instruction until brig resume; events in order",
          "[control-socket]") {
    TempDir dir;
    const std::string sock = (dir.path / "vm.sock").string();
    BrigRun run{guest_args("spin", {"--socket", sock, "--suspended"})};
    run.timeout = std::chrono::seconds(60);
    BrigResult events;
    std::thread watcher;
    std::thread driver([&] {
        for (int i = 0; i < 200 && !std::filesystem::exists(sock); ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        watcher = std::thread([&] {
            BrigRun follow{{"events", sock}};
            follow.timeout = std::chrono::seconds(40);
            events = run_brig(follow);
        });
        const auto status = client("status", sock);
        CHECK_THAT(status.out, StartsWith("{\"state\":\"paused\""));
        std::this_thread::sleep_for(std::chrono::milliseconds(1000));
        CHECK(client("resume", sock).exit_code == 0);
    });
    bool stopping = false;
    run.on_output = [&](const std::string& out, pid_t) {
        if (stopping || out.find("spin: 1\n") == std::string::npos) return;
        stopping = true;
        CHECK(client("stop", sock).exit_code == 0);
    };
    const auto r = run_brig(run);
    driver.join();
    if (watcher.joinable()) watcher.join();
    INFO("stderr:\n" << r.err << "\nevents:\n" << events.out << events.err);
    CHECK(r.exit_code == 0);
    CHECK(stopping);
    CHECK(events.exit_code == 0);
    // In order, and every one of them.
    const std::regex order(
        R"(\{"seq":1,"time":"[^"]+","event":"started","suspended":true\}
\{"seq":2,"time":"[^"]+","event":"resumed"\}
\{"seq":3,"time":"[^"]+","event":"stopping","reason":"stopped by brig stop on the control socket"\}
\{"seq":4,"time":"[^"]+","event":"stopped","exit_code":0,"record":"SHUTDOWN"\}
)");
    CHECK(std::regex_match(events.out, order));
}

TEST_CASE("control socket: garbage, silent and surplus clients do not disturb the VM", "[control-socket]") {
    TempDir dir;
    const std::string sock = (dir.path / "vm.sock").string();
    BrigRun run{guest_args("spin", {"--socket", sock})};
    run.timeout = std::chrono::seconds(60);
    bool done = false;
    run.on_output = [&](const std::string& out, pid_t) {
        if (done || out.find("spin: 1\n") == std::string::npos) return;
        done = true;
        {
            base::UniqueFd garbage = raw_connect(sock);
            REQUIRE(garbage.valid());
            std::string junk(4096, '\xff');
            for (size_t i = 0; i < junk.size(); ++i) junk[i] = static_cast<char>(i * 37);
            CHECK(::write(garbage.get(), junk.data(), junk.size()) > 0);
            // A frame that claims 2^31 words.
            const uint32_t huge[2] = {0, 0x7fffffff};
            ::write(garbage.get(), huge, sizeof huge);
        }
        std::vector<base::UniqueFd> silent;
        for (int i = 0; i < 20; ++i) silent.push_back(raw_connect(sock));  // past the bound: closed at once
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        silent.clear();
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        const auto status = client("status", sock);
        CHECK(status.exit_code == 0);
        CHECK_THAT(status.out, StartsWith("{\"state\":\"running\""));
        CHECK(client("stop", sock).exit_code == 0);
    };
    const auto r = run_brig(run);
    INFO("stderr:\n" << r.err);
    CHECK(done);
    CHECK(r.exit_code == 0);
}

TEST_CASE("control socket: no VM, a busy path and misuse are one line each", "[control-socket]") {
    TempDir dir;
    const auto none = client("status", (dir.path / "none.sock").string());
    CHECK(none.exit_code == 1);
    CHECK_THAT(none.err, StartsWith("brig: status: no VM at "));
    CHECK(none.err_lines().size() == 1);
    const auto bare = run_brig({{"suspend"}});
    CHECK(bare.exit_code == 35);
    CHECK_THAT(bare.err, Contains("suspend: needs the control socket: brig suspend SOCKET"));
    const auto alone = run_brig({guest_args("spin", {"--suspended"})});
    CHECK(alone.exit_code == 35);
    CHECK_THAT(alone.err, Contains("--suspended: needs --socket"));

    const std::string sock = (dir.path / "vm.sock").string();
    BrigRun run{guest_args("spin", {"--socket", sock})};
    run.timeout = std::chrono::seconds(60);
    bool done = false;
    run.on_output = [&](const std::string& out, pid_t pid) {
        if (done || out.find("spin: 1\n") == std::string::npos) return;
        done = true;
        const auto second = run_brig({guest_args("spin", {"--socket", sock})});
        CHECK(second.exit_code == 35);
        CHECK_THAT(second.err, Contains("--socket: " + sock + ": in use (a program listens there)"));
        kill(pid, SIGTERM);
    };
    const auto r = run_brig(run);
    CHECK(done);
    CHECK(r.exit_code == 0);
}

TEST_CASE("pvpanic: the guest's panic stops the VM with 34 and GUEST_PANIC, and the event says so",
          "[control-socket]") {
    TempDir dir;
    TempFile failure;
    const std::string sock = (dir.path / "vm.sock").string();
    BrigRun run{guest_args("panic", {"--socket", sock, "--suspended", "--failure-file", failure.path})};
    run.timeout = std::chrono::seconds(30);
    BrigResult events;
    std::thread driver([&] {
        for (int i = 0; i < 200 && !std::filesystem::exists(sock); ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        std::thread follow([&] {
            BrigRun watch{{"events", sock}};
            watch.timeout = std::chrono::seconds(20);
            events = run_brig(watch);
        });
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        CHECK(client("resume", sock).exit_code == 0);
        follow.join();
    });
    const auto r = run_brig(run);
    driver.join();
    INFO("stderr:\n" << r.err << "\nevents:\n" << events.out);
    CHECK(r.exit_code == 34);
    CHECK(failure.content() == "GUEST_PANIC\n");
    CHECK_THAT(r.err, Contains("brig: GUEST_PANIC: guest panicked (pvpanic)"));
    CHECK_THAT(events.out, Contains("\"event\":\"guest-panic\",\"detail\":\"guest panicked (pvpanic)\"}"));
    CHECK_THAT(events.out, Contains("\"event\":\"stopped\",\"exit_code\":34,\"record\":\"GUEST_PANIC\"}"));
    CHECK(events.out.find("guest-panic") < events.out.find("\"stopping\""));
}

TEST_CASE("control socket: powerbtn raises the GED's interrupt on a running VM, and is refused on a paused one",
          "[control-socket]") {
    TempDir dir;
    const std::string sock = (dir.path / "vm.sock").string();
    BrigRun run{guest_args("spin", {"--socket", sock})};
    run.timeout = std::chrono::seconds(60);
    bool done = false;
    std::string events;
    run.on_output = [&](const std::string& out, pid_t) {
        if (done || out.find("spin: 1\n") == std::string::npos) return;
        done = true;
        CHECK(client("powerbtn", sock).exit_code == 0);
        CHECK(client("suspend", sock).exit_code == 0);
        const auto paused = client("powerbtn", sock);
        CHECK(paused.exit_code == 1);
        CHECK(paused.err == "brig: powerbtn: the VM is not running\n");
        CHECK(client("resume", sock).exit_code == 0);
        CHECK(client("stop", sock).exit_code == 0);
    };
    std::thread follow;
    const auto r = run_brig(run);
    INFO("stderr:\n" << r.err);
    CHECK(done);
    CHECK(r.exit_code == 0);
}

TEST_CASE("control socket and vsock broker answer after brig is stopped and continued (every filter installed)",
          "[control-socket]") {
    TempDir dir;
    const std::string sock = (dir.path / "vm.sock").string();
    const std::string vsock = (dir.path / "v.sock").string();
    BrigRun run{guest_args("spin", {"--socket", sock, "--vsock", "cid=3,socket=" + vsock})};
    run.timeout = std::chrono::seconds(60);
    bool done = false;
    run.on_output = [&](const std::string& out, pid_t pid) {
        if (done || out.find("spin: 1\n") == std::string::npos) return;
        done = true;
        // Both threads wait (epoll, poll with a timeout) while brig is stopped; the
        // kernel resumes them through restart_syscall, which their filters must allow.
        for (int i = 0; i < 3; ++i) {
            REQUIRE(kill(pid, SIGSTOP) == 0);
            std::this_thread::sleep_for(std::chrono::milliseconds(300));
            REQUIRE(kill(pid, SIGCONT) == 0);
            std::this_thread::sleep_for(std::chrono::milliseconds(200));
        }
        CHECK_THAT(client("status", sock).out, StartsWith("{\"state\":\"running\""));
        // The broker still reads host connections: a line that is not the protocol
        // is hung up on at once.
        base::UniqueFd host = raw_connect(vsock);
        REQUIRE(host.valid());
        REQUIRE(::write(host.get(), "HELLO\n", 6) == 6);
        pollfd p{host.get(), POLLIN, 0};
        REQUIRE(::poll(&p, 1, 5000) == 1);
        char c;
        CHECK(::read(host.get(), &c, 1) <= 0);
        CHECK(client("stop", sock).exit_code == 0);
    };
    const auto r = run_brig(run);
    INFO("stderr:\n" << r.err);
    CHECK(done);
    CHECK(r.exit_code == 0);
    CHECK(r.err.find("seccomp") == std::string::npos);
}

TEST_CASE("control socket: status gives each device's counters: notifies, interrupts, bytes in and out",
          "[control-socket]") {
    TempDir dir;
    const std::string sock = (dir.path / "vm.sock").string();
    TempImage disk(64 * 1024);
    // mode=reboot with resets=0 reads, writes and flushes sector 0 once, then holds.
    BrigRun run{{"run", "--kernel", test_guest(), "--cmdline", "mode=reboot intact=1 resets=0 hold=1", "--mem", "64",
                 "--disk", disk.path, "--socket", sock}};
    run.timeout = std::chrono::seconds(60);
    std::string status;
    run.on_output = [&](const std::string& out, pid_t) {
        if (!status.empty() || out.find("reboot: holding\n") == std::string::npos) return;
        status = client("status", sock).out;
        CHECK(client("stop", sock).exit_code == 0);
    };
    const auto r = run_brig(run);
    INFO("status: " << status << "\nstderr:\n" << r.err);
    require_exit(r, 0);
    const std::regex blk(
        R"re(\{"name":"virtio-blk0","kind":"virtio-blk","pid":[0-9]+,"state":"running","notifies":([0-9]+),"interrupts":([0-9]+),"bytes_in":([0-9]+),"bytes_out":([0-9]+)\})re");
    std::smatch m;
    REQUIRE(std::regex_search(status, m, blk));
    // Three requests (read, write, flush), each notified and completed with an interrupt;
    // a sector each way at least.
    CHECK(std::stoull(m[1]) >= 3);
    CHECK(std::stoull(m[2]) >= 3);
    CHECK(std::stoull(m[3]) >= 512);
    CHECK(std::stoull(m[4]) >= 512);
    // The UART raises its interrupt only when the guest enables it, and has no queues.
    CHECK_THAT(status, Contains("\"kind\":\"serial\",\"pid\":"));
    CHECK_THAT(status, Contains("\"notifies\":0,"));
}
