#include "tests/fuzz/filtered_thread.h"

#include <signal.h>
#include <ucontext.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <string>
#include <utility>

#include "ipc/sandbox/profiles.h"
#include "minijail-wrapper/minijail/policy.h"
#include "tests/fuzz/fuzz_target.h"

#ifdef BRIG_LIBFUZZER
#include <sanitizer/common_interface_defs.h>
#endif

namespace brig::fuzz {
namespace {

std::atomic<int> g_refused{-1};

// Where the refused call came from: its address and the frame-pointer chain above
// it (the sanitizer builds keep frame pointers), read without a syscall, for the
// unfiltered thread to symbolise. Only the first refusal of an input is kept.
constexpr size_t kMaxFrames = 24;
std::array<uintptr_t, kMaxFrames> g_frames{};
std::atomic<size_t> g_frame_count{0};
std::array<uint64_t, 3> g_args{};

void remember_frames(const greg_t* regs) {
    g_args = {static_cast<uint64_t>(regs[REG_RDI]), static_cast<uint64_t>(regs[REG_RSI]),
              static_cast<uint64_t>(regs[REG_RDX])};
    size_t n = 0;
    g_frames[n++] = static_cast<uintptr_t>(regs[REG_RIP]);
    const uintptr_t stack_low = static_cast<uintptr_t>(regs[REG_RSP]);
    uintptr_t frame = static_cast<uintptr_t>(regs[REG_RBP]);
    while (n < kMaxFrames && frame >= stack_low && frame < stack_low + (8u << 20) && frame % 8 == 0) {
        const auto* words = reinterpret_cast<const uintptr_t*>(frame);
        if (words[1] == 0) break;
        g_frames[n++] = words[1];
        if (words[0] <= frame) break;
        frame = words[0];
    }
    g_frame_count = n;
}

void on_sigsys(int, siginfo_t* info, void* context) {
    auto* uc = static_cast<ucontext_t*>(context);
    int expected = -1;
    if (g_refused.compare_exchange_strong(expected, info->si_syscall)) remember_frames(uc->uc_mcontext.gregs);
    uc->uc_mcontext.gregs[REG_RAX] = -ENOSYS;
}

}  // namespace

RefusalRecorder::RefusalRecorder() {
    struct sigaction sa {};
    sa.sa_sigaction = on_sigsys;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSYS, &sa, &previous_);
}

RefusalRecorder::~RefusalRecorder() { sigaction(SIGSYS, &previous_, nullptr); }

void fail_on_refused_syscall(const char* thread) {
    const int nr = g_refused.exchange(-1);
    if (nr < 0) return;
    std::string where;
    for (size_t i = 0; i < g_frame_count; ++i) {
#ifdef BRIG_LIBFUZZER
        char line[512];
        __sanitizer_symbolize_pc(reinterpret_cast<void*>(g_frames[i]), "%p %F %L", line, sizeof line);
        where += std::string("\n    #") + std::to_string(i) + " " + line;
#else
        where += " " + std::to_string(g_frames[i]);
#endif
    }
    char args[96];
    std::snprintf(args, sizeof args, "(0x%llx, 0x%llx, 0x%llx, ...)", static_cast<unsigned long long>(g_args[0]),
                  static_cast<unsigned long long>(g_args[1]), static_cast<unsigned long long>(g_args[2]));
    fail(std::string("the ") + thread + " thread's filter refused " + minijail::syscall_name(nr) + args + ", at" +
         where);
}

std::vector<sock_filter> thread_filter(std::string_view context) {
    std::string file;
    for (const auto& c : sandbox::sandbox_contexts())
        if (c.name == context) file = c.policy_file;
    if (file.empty()) fail("no sandbox context " + std::string(context));
    minijail::Policy policy = minijail::parse_policy_file(std::filesystem::path(BRIG_SOURCE_POLICY_DIR) / file);
#if defined(__SANITIZE_ADDRESS__)
    constexpr bool kAsan = true;
#elif defined(__has_feature)
    constexpr bool kAsan = __has_feature(address_sanitizer);
#else
    constexpr bool kAsan = false;
#endif
    if (kAsan && !policy.find("sigaltstack")) {
        minijail::SyscallRule rule;
        rule.name = "sigaltstack";
        rule.nr = minijail::syscall_number(rule.name);
        policy.rules.push_back(rule);
    }
    return minijail::compile_policy(policy, minijail::DefaultAction::Trap);
}

FilteredThread::FilteredThread(std::vector<sock_filter> filter)
    : thread_([this, f = std::move(filter)]() mutable { loop(std::move(f)); }) {}

FilteredThread::~FilteredThread() {
    {
        std::lock_guard lock(mutex_);
        stop_ = true;
    }
    changed_.notify_all();
    thread_.join();
}

void FilteredThread::start(const std::function<void()>& fn) {
    std::lock_guard lock(mutex_);
    job_ = &fn;
    changed_.notify_all();
}

void FilteredThread::wait() {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return job_ == nullptr; });
    if (auto error = std::exchange(error_, nullptr)) std::rethrow_exception(error);
}

void FilteredThread::loop(std::vector<sock_filter> filter) {
    minijail::install_filter(filter, /*tsync=*/false);
    std::unique_lock lock(mutex_);
    while (true) {
        changed_.wait(lock, [&] { return stop_ || job_ != nullptr; });
        if (stop_) return;
        try {
            (*job_)();
        } catch (...) {
            error_ = std::current_exception();
        }
        job_ = nullptr;
        changed_.notify_all();
    }
}

}  // namespace brig::fuzz
