// Forwarding header, only until vmm/policy_tool/policy_command.cpp stops including it
// (it uses nothing from it). Errors are base::SystemError now: include "base/error.h".
#pragma once

#include "base/error.h"
