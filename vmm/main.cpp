// brig: parse the command line, build the VM, run it under the supervisor, and turn
// the outcome into one line on stderr, one --failure-file record and a crosvm-compatible
// exit status (exit_report.h).
#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <ctime>
#include <filesystem>
#include <optional>

#include <cstdio>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "base/malloc_arena.h"
#include "vmm/builder.h"
#include "vmm/cli/cli.h"
#include "vmm/control/control_client.h"
#include "vmm/control/control_server.h"
#include "vmm/error.h"
#include "vmm/exit_report.h"
#include "vmm/logging.h"
#include "policy-tool/policy_command.h"
#include "vmm/sandbox/sandbox_files.h"
#include "vmm/sandbox/seccomp_notifier.h"
#include "vmm/sandbox/vmm_sigsys.h"
#include "vmm/supervisor.h"

namespace {

// The command line as one printable line, for the header of learned policies.
std::string workload_line(int argc, char** argv) {
    std::string line = "brig";
    for (int i = 1; i < argc; ++i) {
        std::string word = argv[i];
        for (char& c : word)
            if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
        const bool quote = word.empty() || word.find_first_of(" \t'\"") != std::string::npos;
        line += " " + (quote ? "'" + word + "'" : word);
    }
    return line;
}

// --seccomp=log|learn: the thread that answers the devices' seccomp notifications.
// Started before anything else, so it is the one thread of brig without a seccomp
// filter (it writes the learned policies at the end); see sandbox/seccomp_notifier.h.
std::unique_ptr<brig::SeccompNotifier> start_seccomp_notifier(const brig::RunOptions& options,
                                                              const std::string& workload) {
    using Mode = brig::RunOptions::SeccompMode;
    if (options.seccomp_mode == Mode::Kill) return nullptr;
    if (options.disable_sandbox)
        throw brig::InvalidArgument("--seccomp: log and learn watch device processes; --disable-sandbox has none");
    if (options.policy_out) brig::SeccompNotifier::refuse_links_in_policy_out(*options.policy_out);
    spdlog::warn("[seccomp] --seccomp={}: {}; not for production", options.seccomp_mode == Mode::Log ? "log" : "learn",
                 options.seccomp_mode == Mode::Log ? "device syscalls their policy refuses are logged and allowed"
                                                   : "every device syscall is recorded and allowed");
    return std::make_unique<brig::SeccompNotifier>(
        options.seccomp_mode == Mode::Log ? brig::SeccompNotifier::Mode::Log : brig::SeccompNotifier::Mode::Learn,
        workload);
}

int run(const brig::RunOptions& options, const std::string& workload) {
    const sigset_t signals = brig::block_supervisor_signals();
    brig::logging::setup(
        {options.log_level, options.log_format, options.log_file, options.syslog_tag, brig::syslog_socket_path()});
    brig::exit_report::set_quiet(options.log_level == spdlog::level::off);
    // Normally opened from argv already; opening the same path again does nothing.
    if (options.failure_file) brig::exit_report::open_failure_file(*options.failure_file);
    const brig::StdinConsole reads_stdin = brig::stdin_console(options);
    const bool forward_stdin = reads_stdin == brig::StdinConsole::Serial;
    const bool console_reads_stdin = reads_stdin == brig::StdinConsole::VirtioConsole;
    // brig sees the UART's bytes, not the virtio console's (see exit_report.h).
    brig::exit_report::set_console_on_terminal((forward_stdin || console_reads_stdin) && isatty(STDOUT_FILENO) &&
                                               isatty(STDERR_FILENO));
    if (console_reads_stdin) brig::exit_report::note_console_unseen();
    // Declared before the VM: it must answer the devices until they are all reaped.
    auto notifier = start_seccomp_notifier(options, workload);
    // The control socket is bound first, so a path in use costs nothing; its thread
    // starts once its filter is compiled, before the guest runs.
    brig::control::EventLog events;
    std::optional<brig::control::ControlServer> control;
    if (options.control_socket) control.emplace(*options.control_socket, events);
    auto vm = brig::build_vm(options);
    const std::filesystem::path policy_dir = vm->policy_dir;  // the set the devices ran with
    if (control) {
        vm->events = &events;
        std::function<void()> filter;
        if (vm->thread_filters) filter = [&vm] { brig::install_thread_filter("control", vm->thread_filters->control); };
        control->start(filter);
    }
    brig::SupervisorOptions supervision{forward_stdin, console_reads_stdin, options.boot_timeout_seconds,
                                        options.ready_port};
    supervision.control = control ? &*control : nullptr;
    supervision.events = &events;
    supervision.suspended = options.suspended;
    const brig::StopReason reason = brig::supervise(*vm, signals, supervision);
    vm.reset();  // every thread joined, every device reaped, every fd closed
    if (control) {
        events.append("stopped",
                      fmt::format(",\"exit_code\":{},\"record\":{}", static_cast<int>(brig::exit_code_for(reason.kind)),
                                  brig::control::json_string(brig::failure_record(reason))));
        events.end();
        control->finish();  // the last events reach the clients that wait for them
    }
    if (notifier) {
        // The notifier thread writes the learned policies: this thread's filter opens nothing.
        const auto outcome = notifier->finish(options.policy_out, policy_dir);
        for (const auto& line : outcome.lines) std::fprintf(stderr, "%s\n", line.c_str());
        if (outcome.error) return brig::exit_report::finish(brig::ExitCode::Internal, "INTERNAL_ERROR", *outcome.error);
    }
    return brig::exit_report::finish(brig::exit_code_for(reason.kind), brig::record_keyword(reason.kind), reason.detail,
                                     reason.fields);
}

}  // namespace

int main(int argc, char** argv) {
    base::use_main_malloc_arena_only();
    using brig::exit_report::finish;
    try {
        const std::vector<std::string_view> args(argv + 1, argv + argc);
        // First, so that every later failure, a parse error included, is recorded.
        if (const auto path = brig::find_failure_file(args)) brig::exit_report::open_failure_file(*path);
        const brig::Command command = brig::parse_command_line(args);
        if (const auto* help = std::get_if<brig::HelpRequest>(&command)) {
            std::fputs(help->text.c_str(), stdout);
            return 0;
        }
        if (const auto* policy = std::get_if<brig::PolicyCommand>(&command))
            return brig::run_policy_command(policy->args);
        if (const auto* control = std::get_if<brig::ControlCommand>(&command))
            return brig::control::run_control_command(control->verb, control->socket);
        if (std::holds_alternative<brig::VersionRequest>(command)) {
            std::puts("brig " BRIG_VERSION);
            return 0;
        }
        return run(std::get<brig::RunOptions>(command), workload_line(argc, argv));
    } catch (const brig::InvalidArgument& e) {
        return finish(brig::ExitCode::InvalidArguments, "INVALID_ARGUMENT", e.what(),
                      brig::exit_report::flag_of(e.what()));
    } catch (const brig::DeviceCrashed& e) {
        return finish(brig::ExitCode::DeviceCrash, "DEVICE_CRASHED", e.what(), e.record_fields());
    } catch (const brig::HostError& e) {
        return finish(brig::ExitCode::Internal, "INTERNAL_ERROR", e.what());
    } catch (const base::SystemError& e) {
        return finish(brig::ExitCode::Internal, "INTERNAL_ERROR", e.what());
    } catch (const std::exception& e) {
        return finish(brig::ExitCode::Internal, "INTERNAL_ERROR", std::string("internal error: ") + e.what());
    }
}
