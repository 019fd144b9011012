#include "sandbox/policies.h"

#include "error.h"
#include "minijail/policy.h"

namespace brig {
namespace {

BpfProgram compile(const std::filesystem::path& file) {
    try {
        return minijail::compile_policy(minijail::parse_policy_file(file), minijail::DefaultAction::Trap);
    } catch (const minijail::PolicyError& e) {
        throw InvalidArgument(std::string("seccomp policy: ") + e.what());
    }
}

}  // namespace

BpfProgram compile_device_policy(const std::filesystem::path& dir, const std::string& kind) {
    // Device kinds use dashes ("virtio-blk"), policy files underscores (virtio_blk_device.policy).
    std::string file = kind;
    for (auto& c : file)
        if (c == '-') c = '_';
    return compile(dir / (file + "_device.policy"));
}

VmmThreadFilters compile_vmm_policies(const std::filesystem::path& dir) {
    return {compile(dir / "brig_vcpu.policy"), compile(dir / "brig_main.policy"), compile(dir / "brig_ipc.policy")};
}

}  // namespace brig
