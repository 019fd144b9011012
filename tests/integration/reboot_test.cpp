// --on-reboot restart: the test guest's mode=reboot counts its boots in sector 0 of a
// disk and resets until it has booted resets+1 times, in one brig run with every
// device jailed and every filter installed. Each boot prints what a reboot in place
// must have put back: the disk's virtio status (reset to 0), a variable in the
// kernel's data (loaded again) and its command line (written again).
#include <catch2/catch.hpp>
#include <filesystem>
#include <regex>
#include <thread>

#include "tests/integration/brig_process.h"
#include "tests/integration/temp_files.h"

using namespace brig::test;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

namespace {

constexpr size_t kDiskBytes = 64 * 1024;

std::vector<std::string> reboot_args(const TempImage& disk, const std::string& options,
                                     std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"run",   "--kernel", test_guest(), "--cmdline", "mode=reboot intact=1 " + options,
                                     "--mem", "64",       "--disk",     disk.path};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
}

// Boot N as the guest reports it when everything was reset and loaded again.
std::string clean_boot(unsigned n) {
    return "reboot: boot=" + std::to_string(n) + " status=0 marker=0x600d cmdline=ok\n";
}

}  // namespace

TEST_CASE("reboot in place: the guest resets on its first boot and powers off on its second, in one run", "[reboot]") {
    struct Case {
        const char* options;
        const char* via;
        bool bzimage;
        const char* cpus;
    };
    const Case c = GENERATE(Case{"", "acpi", false, "1"}, Case{"kbd=1", "kbd", true, "1"},
                            Case{"triple=1", "triple", false, "2"}, Case{"", "acpi", true, "2"});
    INFO("options '" << c.options << "', " << (c.bzimage ? "bzImage" : "PVH") << ", " << c.cpus << " vCPUs");
    TempImage disk(kDiskBytes);
    TempFile failure;
    auto args = reboot_args(
        disk, c.options,
        {"--on-reboot", "restart", "--cpus", c.cpus, "--failure-file", failure.path, "--log-level", "info"});
    if (c.bzimage) args[2] = test_guest_bzimage();
    BrigRun run{args};
    run.timeout = std::chrono::seconds(60);
    const auto r = run_brig(run);
    require_exit(r, 0);
    CHECK_THAT(r.out, Contains(clean_boot(1)));
    CHECK_THAT(r.out, Contains(clean_boot(2)));
    CHECK_THAT(r.out, !Contains("boot=3"));
    CHECK_THAT(r.err, Contains("[board] rebooted in place in "));
    CHECK(disk.content().substr(0, 8) == "boots=2\n");
    CHECK(failure.content() == "SHUTDOWN\n");
    CHECK_THAT(r.out, Contains(std::string("reset: via ") + c.via + "\n"));
}

TEST_CASE("reboot in place: --max-reboots bounds a reset loop, then exit 32 and REBOOT", "[reboot]") {
    TempImage disk(kDiskBytes);
    TempFile failure;
    BrigRun run{reboot_args(disk, "resets=1000",
                            {"--on-reboot", "restart", "--max-reboots", "3", "--failure-file", failure.path})};
    run.timeout = std::chrono::seconds(60);
    const auto r = run_brig(run);
    require_exit(r, 32);
    for (unsigned boot = 1; boot <= 4; ++boot) CHECK_THAT(r.out, Contains(clean_boot(boot)));
    CHECK_THAT(r.out, !Contains("boot=5"));
    CHECK(disk.content().substr(0, 8) == "boots=4\n");
    CHECK_THAT(failure.content(), StartsWith("REBOOT"));
    CHECK_THAT(r.err, Contains("after 3 reboots in place (--max-reboots)"));
}

TEST_CASE("reboot in place: by default a reset still exits 32 after the first boot", "[reboot]") {
    TempImage disk(kDiskBytes);
    const auto r = run_brig({reboot_args(disk, "")});
    require_exit(r, 32);
    CHECK_THAT(r.out, Contains(clean_boot(1)));
    CHECK_THAT(r.out, !Contains("boot=2"));
    CHECK(disk.content().substr(0, 8) == "boots=1\n");
}

TEST_CASE("reboot in place: the devices in brig's own process are reset too (--disable-sandbox)", "[reboot]") {
    TempImage disk(kDiskBytes);
    BrigRun run{reboot_args(disk, "", {"--on-reboot", "restart", "--disable-sandbox"})};
    run.timeout = std::chrono::seconds(60);
    const auto r = run_brig(run);
    require_exit(r, 0);
    CHECK_THAT(r.out, Contains(clean_boot(2)));
    CHECK(disk.content().substr(0, 8) == "boots=2\n");
}

TEST_CASE("reboot in place: events say guest-reset with the action, and status counts the reboots",
          "[reboot][control-socket]") {
    TempImage disk(kDiskBytes);
    TempDir dir;
    const std::string sock = (dir.path / "vm.sock").string();
    // Two resets, then the guest holds until it is stopped: status is read then.
    BrigRun run{reboot_args(disk, "resets=2 hold=1", {"--on-reboot", "restart", "--socket", sock, "--suspended"})};
    run.timeout = std::chrono::seconds(60);
    BrigResult events;
    std::thread watcher;
    std::thread driver([&] {
        for (int i = 0; i < 200 && !std::filesystem::exists(sock); ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        watcher = std::thread([&] {
            BrigRun follow{{"events", sock}};
            follow.timeout = std::chrono::seconds(40);
            events = run_brig(follow);
        });
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        BrigRun resume{{"resume", sock}};
        CHECK(run_brig(resume).exit_code == 0);
    });
    bool stopped = false;
    run.on_output = [&](const std::string& out, pid_t) {
        if (stopped || out.find("reboot: holding\n") == std::string::npos) return;
        stopped = true;
        BrigRun status{{"status", sock}};
        const auto s = run_brig(status);
        CHECK(s.exit_code == 0);
        CHECK_THAT(s.out, StartsWith("{\"state\":\"running\""));
        CHECK_THAT(s.out, Contains("\"reboots\":2,"));
        BrigRun stop{{"stop", sock}};
        CHECK(run_brig(stop).exit_code == 0);
    };
    const auto r = run_brig(run);
    driver.join();
    if (watcher.joinable()) watcher.join();
    INFO("events:\n" << events.out << events.err);
    CHECK(stopped);
    require_exit(r, 0);
    CHECK(disk.content().substr(0, 8) == "boots=3\n");
    const std::regex order(
        R"(\{"seq":1,"time":"[^"]+","event":"started","suspended":true\}
\{"seq":2,"time":"[^"]+","event":"resumed"\}
\{"seq":3,"time":"[^"]+","event":"guest-reset","detail":"guest reset via acpi-reset-register","action":"restart","reboots":0\}
\{"seq":4,"time":"[^"]+","event":"guest-reset","detail":"guest reset via acpi-reset-register","action":"restart","reboots":1\}
\{"seq":5,"time":"[^"]+","event":"stopping","reason":"stopped by brig stop on the control socket"\}
\{"seq":6,"time":"[^"]+","event":"stopped","exit_code":0,"record":"SHUTDOWN"\}
)");
    CHECK(std::regex_match(events.out, order));
}
