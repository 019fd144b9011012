// brig: parse the command line, build the VM, run it under the supervisor, and turn
// the outcome into one line on stderr and a crosvm-compatible exit status.
#include <unistd.h>

#include <cstdio>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <string_view>
#include <vector>

#include "builder.h"
#include "cli/cli.h"
#include "error.h"
#include "supervisor.h"

namespace {

int report(brig::ExitCode code, const std::string& line) {
    std::fprintf(stderr, "brig: %s\n", line.c_str());
    return static_cast<int>(code);
}

void setup_logging(spdlog::level::level_enum level) {
    auto logger = spdlog::stderr_logger_mt("brig");
    logger->set_pattern("[%H:%M:%S.%e] %l %v");
    logger->set_level(level);
    spdlog::set_default_logger(logger);
}

int run(const brig::RunOptions& options) {
    const sigset_t signals = brig::block_supervisor_signals();
    setup_logging(options.log_level);
    auto vm = brig::build_vm(options);
    const bool forward_stdin = options.serial.kind == brig::ConsoleOutput::Kind::Stdout;
    const brig::StopReason reason = brig::supervise(*vm, signals, forward_stdin);
    const brig::ExitCode code = brig::exit_code_for(reason.kind);
    vm.reset();  // every thread joined and fd closed before the status is final
    if (code == brig::ExitCode::GuestShutdown || code == brig::ExitCode::GuestReset) {
        spdlog::info("[board] {}", reason.detail);
        return static_cast<int>(code);
    }
    return report(code, std::string(brig::to_string(reason.kind)) + ": " + reason.detail);
}

}  // namespace

int main(int argc, char** argv) {
    try {
        const std::vector<std::string_view> args(argv + 1, argv + argc);
        const brig::Command command = brig::parse_command_line(args);
        if (const auto* help = std::get_if<brig::HelpRequest>(&command)) {
            std::fputs(help->text.c_str(), stdout);
            return 0;
        }
        if (std::holds_alternative<brig::VersionRequest>(command)) {
            std::puts("brig " BRIG_VERSION);
            return 0;
        }
        return run(std::get<brig::RunOptions>(command));
    } catch (const brig::InvalidArgument& e) {
        return report(brig::ExitCode::InvalidArguments, e.what());
    } catch (const brig::HostError& e) {
        return report(brig::ExitCode::Internal, e.what());
    } catch (const std::exception& e) {
        return report(brig::ExitCode::Internal, std::string("internal error: ") + e.what());
    }
}
