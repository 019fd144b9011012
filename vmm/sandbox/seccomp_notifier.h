// brig run --seccomp=log|learn: the VMM end of the device processes' seccomp user
// notifications. Each device (in notify mode, see device-procs/device_main.cpp)
// hands brig the listener of its filter; one thread of brig serves them all:
//
//   log    the device runs its real policy with SECCOMP_RET_USER_NOTIF instead of
//          TRAP, so only violations arrive here. Each one is printed on stderr (device,
//          pid, thread, syscall and arguments) and then allowed.
//   learn  the device runs an (almost) empty policy, so every syscall arrives here.
//          Each is recorded per device kind and allowed; at the end one proposed
//          minimal policy per kind is written (learned_policy.h).
//
// The rule: nothing is granted unrecorded. Every SECCOMP_USER_NOTIF_FLAG_CONTINUE
// this thread sends is printed (log) or recorded (learn) first. The one exception
// to "ask brig" is learn mode's `sendmsg` on the report fd, which hands over the
// listener itself; it is recorded when the listener arrives.
//
// The serving thread runs WITHOUT a seccomp filter of its own: it is started before
// any of brig's thread filters exist, and it must open files in the policy output
// directory at the end. This only exists in log/learn mode, which are development
// modes; `--seccomp=kill` (the default) has no such thread.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "vmm/sandbox/learned_policy.h"
#include "base/unique_fd.h"

namespace brig {

class SeccompNotifier {
public:
    enum class Mode { Log, Learn };

    // Starts the serving thread. `workload` is the brig command line, for the headers
    // of learned policies. At most one exists at a time: active() returns it.
    SeccompNotifier(Mode mode, std::string workload);
    ~SeccompNotifier();  // stops serving (the device processes must be gone by then)
    SeccompNotifier(const SeccompNotifier&) = delete;
    SeccompNotifier& operator=(const SeccompNotifier&) = delete;

    static SeccompNotifier* active();
    Mode mode() const { return mode_; }

    // Serves `listener` from now on for device `name` of `kind`, process `pid`.
    void add_device(const std::string& kind, const std::string& name, pid_t pid, base::UniqueFd listener);

    struct Outcome {
        std::vector<std::string> lines;    // for stderr: the per-device summary, or what was written
        std::optional<std::string> error;  // writing the policies failed
    };
    // Call once every device process has been reaped. Stops the serving thread; in
    // learn mode that thread then writes one policy per device kind to `policy_out`
    // and copies brig's own thread policies (brig_*.policy) from `policy_dir` into it
    // when absent there, so `--policy-dir policy_out` works as it is.
    Outcome finish(const std::optional<std::filesystem::path>& policy_out, const std::filesystem::path& policy_dir);
    // Before the run: throws InvalidArgument (exit 35) if a file learn mode would write in
    // `dir`, or its temporary, is a symbolic link (the writes themselves never follow one).
    static void refuse_links_in_policy_out(const std::filesystem::path& dir);

private:
    struct Device {
        std::string kind;
        std::string name;
        pid_t pid;
        base::UniqueFd listener;
        std::map<int, uint64_t> violations;  // log mode: by syscall number
    };

    void serve();
    void handle(Device& device);
    void write_policies();
    void stop_thread();

    const Mode mode_;
    const std::string workload_;
    base::UniqueFd wake_;  // eventfd: a device was added, or stop

    std::mutex mutex_;  // guards pending_, stop_
    std::vector<std::unique_ptr<Device>> pending_;
    bool stop_ = false;

    // Owned by the serving thread until it is joined.
    std::vector<std::unique_ptr<Device>> devices_;    // being served
    std::vector<std::unique_ptr<Device>> finished_;   // their listener hung up
    std::map<std::string, LearnedSyscalls> learned_;  // by device kind
    int clone3_nr_ = -1;
    int sendmsg_nr_ = -1;

    // Set before the thread stops (finish), read after it is joined.
    std::optional<std::filesystem::path> policy_out_;
    std::filesystem::path policy_dir_;
    Outcome outcome_;

    std::thread thread_;
};

}  // namespace brig
