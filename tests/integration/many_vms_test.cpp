// Many VMs on one host: twenty brig processes, each with every kind of device,
// started at the same time. Each device runs as its own uid from --jail-ids, so one
// VM's devices neither count against another's task limit nor can signal them.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <memory>
#include <thread>

#include "tests/integration/brig_process.h"
#include "tests/integration/temp_files.h"

using namespace brig::test;
using Catch::Matchers::Contains;

namespace {

// One brig started in the background, its stdout and stderr in files. (run_brig
// blocks, and Catch's assertions may not run on other threads, so this is plain
// fork/exec/waitpid.)
struct BackgroundBrig {
    pid_t pid = -1;
    int status = -1;
    std::unique_ptr<TempFile> out = std::make_unique<TempFile>();
    std::unique_ptr<TempFile> err = std::make_unique<TempFile>();
    std::vector<std::unique_ptr<TempImage>> disks;
};

pid_t start(const std::vector<std::string>& args, const std::string& out, const std::string& err) {
    const std::string binary = brig_binary();
    std::vector<std::string> argv_store = {binary};
    argv_store.insert(argv_store.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_store) argv.push_back(a.data());
    argv.push_back(nullptr);
    const int in_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    const int out_fd = open(out.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
    const int err_fd = open(err.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
    REQUIRE((in_fd >= 0 && out_fd >= 0 && err_fd >= 0));
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        dup2(in_fd, STDIN_FILENO);
        dup2(out_fd, STDOUT_FILENO);
        dup2(err_fd, STDERR_FILENO);
        execv(binary.c_str(), argv.data());
        _exit(127);
    }
    close(in_fd);
    close(out_fd);
    close(err_fd);
    return pid;
}

}  // namespace

TEST_CASE("twenty VMs with serial, two disks, rng and console start at once and all power off", "[many-vms]") {
    constexpr int kVms = 20;
    const auto deadline = std::chrono::seconds(240);
    std::vector<BackgroundBrig> vms(kVms);
    for (auto& vm : vms)
        for (int d = 0; d < 2; ++d) vm.disks.push_back(std::make_unique<TempImage>(1 << 20));

    const auto started = std::chrono::steady_clock::now();
    for (auto& vm : vms)
        vm.pid = start(guest_args("virtio-info", {"--disk", vm.disks[0]->path, "--disk", vm.disks[1]->path, "--rng",
                                                  "--console", "sink"}),
                       vm.out->path, vm.err->path);
    int running = kVms;
    while (running > 0 && std::chrono::steady_clock::now() - started < deadline) {
        for (auto& vm : vms) {
            if (vm.status != -1) continue;
            int status = 0;
            if (waitpid(vm.pid, &status, WNOHANG) == vm.pid) {
                vm.status = status;
                --running;
            }
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    const auto all_exited_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count();
    for (auto& vm : vms) {
        if (vm.status != -1) continue;
        kill(vm.pid, SIGKILL);
        waitpid(vm.pid, &vm.status, 0);
    }
    std::printf(
        "many-vms: %d VMs (serial, 2 x virtio-blk, virtio-rng, virtio-console) from start to all exited: %lld ms\n",
        kVms, static_cast<long long>(all_exited_ms));
    CHECK(running == 0);
    for (int i = 0; i < kVms; ++i) {
        const auto& vm = vms[static_cast<size_t>(i)];
        INFO("VM " << i << " pid " << vm.pid << "\nstdout:\n"
                   << vm.out->content() << "\nstderr:\n"
                   << vm.err->content());
        CHECK(WIFEXITED(vm.status));
        CHECK(WEXITSTATUS(vm.status) == 0);
        // Every device answered the guest: two disks (id 2), the rng (4) and the console (3).
        CHECK_THAT(vm.out->content(), Contains("id=2 base=0xd0000000"));
        CHECK_THAT(vm.out->content(), Contains("id=2 base=0xd0001000"));
        CHECK_THAT(vm.out->content(), Contains("id=4 base=0xd0002000"));
        CHECK_THAT(vm.out->content(), Contains("id=3 base=0xd0003000"));
    }
}
