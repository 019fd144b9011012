#include "vmm/sandbox/policies.h"

#include "vmm/error.h"
#include "base/error.h"
#include "minijail-wrapper/minijail/policy.h"
#include "ipc/sandbox/profiles.h"

namespace brig {
namespace {

BpfProgram compile(const std::filesystem::path& file,
                   minijail::DefaultAction default_action = minijail::DefaultAction::Trap) {
    try {
        return minijail::compile_policy(minijail::parse_policy_file(file), default_action);
    } catch (const minijail::PolicyError& e) {
        throw InvalidArgument(std::string("seccomp policy: ") + e.what());
    } catch (const base::SystemError& e) {  // e.g. a --policy-dir without this file
        throw InvalidArgument("seccomp policy: " + file.string() + ": " + e.what());
    }
}

}  // namespace

BpfProgram compile_device_policy(const std::filesystem::path& dir, const std::string& kind) {
    return compile(dir / sandbox::device_context(kind).policy_file);
}

VmmThreadFilters compile_vmm_policies(const std::filesystem::path& dir) {
    auto thread_policy = [&](std::string_view name) {
        for (const auto& c : sandbox::sandbox_contexts())
            if (c.kind == sandbox::ContextKind::VmmThread && c.name == name) return compile(dir / c.policy_file);
        throw HostError("no sandbox context for brig's " + std::string(name) + " thread");
    };
    return {thread_policy("vcpu"), thread_policy("main"), thread_policy("ipc"), thread_policy("vsock"),
            thread_policy("control")};
}

}  // namespace brig

namespace brig {

BpfProgram compile_device_policy_notifying(const std::filesystem::path& dir, const std::string& kind) {
    return compile(dir / sandbox::device_context(kind).policy_file, minijail::DefaultAction::UserNotif);
}

BpfProgram compile_learn_filter(int report_fd) {
    const std::string text = "sendmsg: arg0 == " + std::to_string(report_fd) + "\n";
    return minijail::compile_policy(minijail::parse_policy_text(text, "<learn mode>"),
                                    minijail::DefaultAction::UserNotif);
}

}  // namespace brig
