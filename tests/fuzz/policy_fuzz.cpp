// Target 5: the policy parser and compiler (minijail-wrapper/minijail/policy.h)
// against libseccomp. Policy text is operator input: whatever it holds ends in a
// Policy or a PolicyError naming file:line:column, never in anything else. @include
// resolves against the shipped policies/, so that the fuzzer can pull real files in.
// A policy that compiles must give a program the kernel's limits allow.
#include <linux/filter.h>

#include <string>
#include <string_view>

#include "base/error.h"
#include "minijail-wrapper/minijail/policy.h"
#include "tests/fuzz/fuzz_target.h"

using namespace brig::fuzz;

BRIG_FUZZ_TARGET(policy) {
    if (size > 16384) return -1;  // policies are small; longer inputs only slow the search
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    minijail::Policy policy;
    try {
        policy = minijail::parse_policy_text(text, "fuzz.policy", BRIG_SOURCE_POLICY_DIR);
    } catch (const minijail::PolicyError& e) {
        if (e.where().line < 1) fail(std::string("a PolicyError without a line: ") + e.what());
        return 0;
    } catch (const base::SystemError&) {
        return 0;  // an @include that cannot be read
    }
    for (const auto& rule : policy.rules)
        if (rule.nr < 0) fail("a rule for an unknown syscall was accepted: " + rule.name);
    try {
        const auto program = minijail::compile_policy(policy, minijail::DefaultAction::Trap);
        if (program.empty() || program.size() > BPF_MAXINSNS)
            fail("a program of " + std::to_string(program.size()) + " instructions");
    } catch (const minijail::PolicyError&) {}
    return 0;
}
