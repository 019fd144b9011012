// For the control-path targets: a thread under one of brig's real seccomp filters,
// whose refusals the fuzzer sees as crashes. Under brig the filter's SIGSYS ends the
// process (vmm/sandbox/vmm_sigsys.cpp); a fuzzer must instead keep the input that
// caused it, so here the handler records the syscall and fails it with ENOSYS, and
// the unfiltered fuzzer thread calls fuzz::fail() once the input is done.
#pragma once

#include <linux/filter.h>
#include <signal.h>

#include <condition_variable>
#include <functional>
#include <mutex>
#include <string_view>
#include <thread>
#include <vector>

namespace brig::fuzz {

// While it lives, SIGSYS records the refused syscall and fails it with ENOSYS; the
// previous disposition comes back after (the unit suite forks children that must
// still die of their filters).
class RefusalRecorder {
public:
    RefusalRecorder();
    ~RefusalRecorder();
    RefusalRecorder(const RefusalRecorder&) = delete;
    RefusalRecorder& operator=(const RefusalRecorder&) = delete;

private:
    struct sigaction previous_ {};
};
// fuzz::fail() naming the syscall a filter refused since the last call, if any.
void fail_on_refused_syscall(const char* thread);

// The filter of sandbox context `context` ("ipc", "serial", ...), compiled from its
// file in policies/ as brig compiles it. In a sanitizer build, plus the syscalls the
// sanitizer runtime makes on its own, which brig's build never makes: ASan's
// sigaltstack on every C++ throw (__asan_handle_no_return).
std::vector<sock_filter> thread_filter(std::string_view context);

// A thread that installs `filter` on itself first and then runs what it is given.
class FilteredThread {
public:
    explicit FilteredThread(std::vector<sock_filter> filter);
    ~FilteredThread();
    // Runs `fn` on the thread and waits for it; an exception it throws is rethrown here.
    void run(const std::function<void()>& fn) {
        start(fn);
        wait();
    }
    // The same in two halves, so that the caller can work meanwhile; `fn` must outlive
    // wait().
    void start(const std::function<void()>& fn);
    void wait();

private:
    void loop(std::vector<sock_filter> filter);

    std::mutex mutex_;
    std::condition_variable changed_;
    const std::function<void()>* job_ = nullptr;  // guarded by mutex_
    std::exception_ptr error_;                    // guarded by mutex_
    bool stop_ = false;                           // guarded by mutex_
    std::thread thread_;
};

}  // namespace brig::fuzz
