#include "vmm/sandbox/seccomp_notifier.h"

#include <linux/audit.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iterator>
#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>
#include <system_error>

#include "base/error.h"
#include "base/eventfd.h"
#include "vmm/error.h"
#include "vmm/output_file.h"
#include "minijail-wrapper/minijail/policy.h"
#include "ipc/sandbox/profiles.h"

namespace brig {
namespace {

SeccompNotifier* g_active = nullptr;

std::string utc_now() {
    const std::time_t now = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&now, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

std::string describe_call(int nr, const uint64_t (&args)[6]) {
    return fmt::format("{}({:#x}, {:#x}, {:#x}, {:#x}, {:#x}, {:#x})", minijail::syscall_name(nr), args[0], args[1],
                       args[2], args[3], args[4], args[5]);
}

std::filesystem::path temporary_name(const std::filesystem::path& path) { return path.string() + ".tmp"; }

// Written to a temporary name and renamed, so a reader never sees half a policy. The
// temporary file is never reached through a link, and rename replaces a link at `path`
// instead of following it.
void write_file(const std::filesystem::path& path, const std::string& text) {
    const std::filesystem::path tmp = temporary_name(path);
    {
        const base::UniqueFd out = open_output_file("--policy-out", tmp, O_TRUNC, 0644);
        for (size_t done = 0; done < text.size();) {
            const ssize_t n = ::write(out.get(), text.data() + done, text.size() - done);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) base::throw_errno("cannot write " + tmp.string());
            done += static_cast<size_t>(n);
        }
    }
    std::filesystem::rename(tmp, path);
}

std::string read_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path.string());
    return {std::istreambuf_iterator<char>(in), {}};
}

}  // namespace

SeccompNotifier::SeccompNotifier(Mode mode, std::string workload) : mode_(mode), workload_(std::move(workload)) {
    if (g_active) throw std::logic_error("SeccompNotifier: only one at a time");
    wake_ = base::make_eventfd("seccomp notifier");
    clone3_nr_ = minijail::syscall_number("clone3");
    sendmsg_nr_ = minijail::syscall_number("sendmsg");
    (void)filtered_argument(0);  // build its table now, not under a device's first notification
    thread_ = std::thread([this] { serve(); });
    g_active = this;
}

SeccompNotifier::~SeccompNotifier() {
    stop_thread();
    g_active = nullptr;
}

SeccompNotifier* SeccompNotifier::active() { return g_active; }

void SeccompNotifier::add_device(const std::string& kind, const std::string& name, pid_t pid, base::UniqueFd listener) {
    auto device = std::make_unique<Device>(Device{kind, name, pid, std::move(listener), {}});
    {
        std::lock_guard lock(mutex_);
        pending_.push_back(std::move(device));
    }
    if (!base::signal_eventfd(wake_.get())) base::throw_errno("write(seccomp notifier wake)");
    spdlog::debug("[seccomp] {} (pid {}): serving its seccomp notifications ({} mode)", name, pid,
                  mode_ == Mode::Learn ? "learn" : "log");
}

void SeccompNotifier::stop_thread() {
    if (!thread_.joinable()) return;
    {
        std::lock_guard lock(mutex_);
        stop_ = true;
    }
    base::signal_eventfd(wake_.get());
    thread_.join();
}

void SeccompNotifier::serve() {
    for (;;) {
        std::vector<pollfd> fds = {{wake_.get(), POLLIN, 0}};
        for (const auto& d : devices_) fds.push_back({d->listener.get(), POLLIN, 0});
        if (poll(fds.data(), fds.size(), -1) < 0) {
            if (errno == EINTR) continue;
            spdlog::error("[seccomp] poll: {}; no longer serving notifications", base::errno_text(errno));
            return;
        }
        if (fds[0].revents & POLLIN) {
            base::drain_eventfd(wake_.get());
            std::lock_guard lock(mutex_);
            for (auto& d : pending_) {
                // Learn mode: the listener came through the one syscall not sent to us.
                if (mode_ == Mode::Learn) {
                    auto& seen = learned_[d->kind];
                    seen.devices.push_back(fmt::format("{} (pid {})", d->name, d->pid));
                    const uint64_t args[6] = {5, 0, 0, 0, 0, 0};
                    seen.record(sendmsg_nr_, args);
                }
                devices_.push_back(std::move(d));
            }
            pending_.clear();
            if (stop_) break;
            continue;  // fds no longer matches devices_
        }
        for (size_t i = devices_.size(); i-- > 0;) {
            const short revents = fds[1 + i].revents;
            if (revents & POLLIN) handle(*devices_[i]);
            // POLLHUP: no task uses the filter any more (the device exited).
            if ((revents & (POLLHUP | POLLERR | POLLNVAL)) && !(revents & POLLIN)) {
                devices_[i]->listener.reset();
                finished_.push_back(std::move(devices_[i]));
                devices_.erase(devices_.begin() + static_cast<std::ptrdiff_t>(i));
            }
        }
    }
    for (auto& d : devices_) {
        d->listener.reset();  // any syscall still waiting now fails with ENOSYS
        finished_.push_back(std::move(d));
    }
    devices_.clear();
    if (mode_ == Mode::Learn && policy_out_) {
        try {
            write_policies();
        } catch (const std::exception& e) {
            outcome_.error = std::string("--policy-out: ") + e.what();
        }
    }
}

void SeccompNotifier::handle(Device& device) {
    seccomp_notif req;
    std::memset(&req, 0, sizeof req);  // the kernel insists
    if (ioctl(device.listener.get(), SECCOMP_IOCTL_NOTIF_RECV, &req) != 0) {
        // ENOENT: the task was killed or its syscall interrupted before we got to it.
        if (errno != ENOENT && errno != EINTR)
            spdlog::warn("[seccomp] {} (pid {}): SECCOMP_IOCTL_NOTIF_RECV: {}", device.name, device.pid,
                         base::errno_text(errno));
        return;
    }
    seccomp_notif_resp resp;
    std::memset(&resp, 0, sizeof resp);
    resp.id = req.id;
    const int nr = req.data.nr;
    uint64_t args[6];
    for (int i = 0; i < 6; ++i) args[i] = req.data.args[i];
    if (req.data.arch != AUDIT_ARCH_X86_64) {
        // The filter kills other architectures before asking; refuse anything else.
        resp.error = -ENOSYS;
    } else if (mode_ == Mode::Learn) {
        learned_[device.kind].record(nr, args);
        if (nr == clone3_nr_) {
            // As every brig policy does: glibc then falls back to clone, which we see.
            resp.error = -ENOSYS;
        } else {
            resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
        }
    } else {
        ++device.violations[nr];
        // Straight to stderr, whatever --log-level says: nothing is allowed unlogged.
        std::fprintf(stderr, "[seccomp] %s (pid %d, thread %u): policy violation %s allowed (--seccomp=log)\n",
                     device.name.c_str(), device.pid, req.pid, describe_call(nr, args).c_str());
        resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
    }
    // ENOENT: the task is gone or was interrupted; a restarted syscall comes back.
    if (ioctl(device.listener.get(), SECCOMP_IOCTL_NOTIF_SEND, &resp) != 0 && errno != ENOENT)
        spdlog::warn("[seccomp] {} (pid {}): SECCOMP_IOCTL_NOTIF_SEND: {}", device.name, device.pid,
                     base::errno_text(errno));
}

void SeccompNotifier::write_policies() {
    const auto& dir = *policy_out_;
    std::filesystem::create_directories(dir);
    const std::string date = utc_now();
    std::vector<std::string> written;
    for (const auto& [kind, seen] : learned_) {
        const std::string file = sandbox::device_context(kind).policy_file;
        write_file(dir / file, render_learned_policy({kind, file, date, workload_}, seen));
        written.push_back(file);
    }
    // brig's own thread policies, so the directory is complete for --policy-dir.
    std::vector<std::string> copied;
    for (const auto& c : sandbox::sandbox_contexts()) {
        if (c.kind != sandbox::ContextKind::VmmThread) continue;
        const auto target = dir / c.policy_file;
        if (std::filesystem::exists(std::filesystem::symlink_status(target))) continue;
        write_file(target, read_file(policy_dir_ / c.policy_file));
        copied.push_back(c.policy_file);
    }
    std::string names;
    for (const auto& f : written) names += (names.empty() ? "" : ", ") + f;
    outcome_.lines.push_back(fmt::format("[seccomp] wrote {} {} to {} ({})", written.size(),
                                         written.size() == 1 ? "policy" : "policies", dir.string(), names));
    if (!copied.empty())
        outcome_.lines.push_back(
            fmt::format("[seccomp] copied brig's {} thread policies from {} there too, for --policy-dir", copied.size(),
                        policy_dir_.string()));
}

void SeccompNotifier::refuse_links_in_policy_out(const std::filesystem::path& dir) {
    for (const auto& c : sandbox::sandbox_contexts()) {
        for (const auto& path : {dir / c.policy_file, temporary_name(dir / c.policy_file)}) {
            std::error_code ec;
            if (std::filesystem::is_symlink(std::filesystem::symlink_status(path, ec)))
                throw InvalidArgument("--policy-out: " + path.string() +
                                      " is a symbolic link; brig does not write through links (give the real path)");
        }
    }
}

SeccompNotifier::Outcome SeccompNotifier::finish(const std::optional<std::filesystem::path>& policy_out,
                                                 const std::filesystem::path& policy_dir) {
    {
        std::lock_guard lock(mutex_);
        policy_out_ = policy_out;
        policy_dir_ = policy_dir;
    }
    stop_thread();
    std::sort(finished_.begin(), finished_.end(), [](const auto& a, const auto& b) { return a->pid < b->pid; });
    if (mode_ == Mode::Log) {
        for (const auto& d : finished_) {
            uint64_t total = 0;
            std::string which;
            for (const auto& [nr, count] : d->violations) {
                total += count;
                which += fmt::format("{}{} x{}", which.empty() ? "" : ", ", minijail::syscall_name(nr), count);
            }
            outcome_.lines.push_back(total == 0
                                         ? fmt::format("[seccomp] {} (pid {}): no policy violations", d->name, d->pid)
                                         : fmt::format("[seccomp] {} (pid {}): {} policy violation{} allowed: {}",
                                                       d->name, d->pid, total, total == 1 ? "" : "s", which));
        }
    }
    return outcome_;
}

}  // namespace brig
