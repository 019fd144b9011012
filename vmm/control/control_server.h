// brig's control socket (`brig run --socket PATH`, ipc/vm_control.capnp): a thread of
// its own ("brig-control", under policies/brig_control.policy) serves the clients;
// what they ask goes to the supervisor (vmm/supervisor.cpp), which alone drives the
// board and the devices, and answers on its thread.
//
// A client is not trusted: at most kMaxClients at once (more are closed at once), a
// message of at most 64 KiB (Cap'n Proto's traversal limit), and a client that makes
// no call for kIdleTimeout is dropped. Garbage breaks only its own connection.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/unique_fd.h"
#include "vmm/control/event_log.h"

namespace brig::control {

constexpr size_t kMaxClients = 8;
constexpr std::chrono::seconds kIdleTimeout(10);
// A request the supervisor has not answered in this long fails.
constexpr std::chrono::seconds kAnswerTimeout(5);
constexpr std::chrono::milliseconds kFinishWait(500);

// One request for the supervisor: answer it exactly once, with the result (status's
// JSON, or "" for the others) or why it is refused.
struct ControlRequest {
    enum class Kind { Stop, Suspend, Resume, Status, PowerButton };
    Kind kind;
    std::function<void(const std::string& result)> answer;
    std::function<void(const std::string& refusal)> refuse;
};

class ControlServer {
public:
    // Binds PATH, mode 0600: a live listener there is refused and a stale socket
    // replaced, as for --vsock. Throws InvalidArgument naming --socket.
    ControlServer(const std::filesystem::path& path, EventLog& events);
    ~ControlServer();
    ControlServer(const ControlServer&) = delete;
    ControlServer& operator=(const ControlServer&) = delete;

    // Starts the thread; `on_thread_start` runs there once its event loop is set up,
    // before it accepts anyone (its seccomp filter).
    void start(std::function<void()> on_thread_start);
    // Readable while requests wait; take() them (the supervisor polls it).
    int wake_fd() const { return wake_.get(); }
    std::vector<ControlRequest> take();
    // Closes every connection and joins the thread; unanswered requests then fail.
    void stop();
    // The control thread's side: queues a request and wakes the supervisor.
    void post(ControlRequest request);
    // After EventLog::end(): waits (at most kFinishWait) for the clients' events calls to
    // be answered, then stop().
    void finish();

    struct Impl;  // the thread's state (control_server.cpp)

private:
    friend struct Impl;

    base::UniqueFd listener_;
    base::UniqueFd wake_;
    EventLog& events_;
    std::mutex mutex_;
    std::vector<ControlRequest> pending_;  // guarded by mutex_
    std::shared_ptr<Impl> impl_;
    std::thread thread_;
};

}  // namespace brig::control
