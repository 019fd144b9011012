// `brig policy ...`: list, show, check, audit and diff brig's sandboxes, reading the
// same table (ipc/sandbox/profiles.h) and policy files the launcher uses.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace brig {

// `args` are the words after "policy". Prints to stdout; returns the exit status
// (0 clean, 1 findings, 35 bad usage or unreadable policy).
int run_policy_command(const std::vector<std::string>& args);

// The same, printing to `out` (results) and `err` (errors), for tests.
int run_policy_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

std::string policy_help();

}  // namespace brig
