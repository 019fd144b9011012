#include "cmdline.h"

#include "physical.h"

/* brig::layout::kCmdlineMax: a command line without a NUL inside this is treated as absent. */
#define CMDLINE_MAX_LENGTH 0x10000u

#define DEFAULT_MODE "info"
#define MODE_OPTION "mode="
#define MODE_OPTION_LENGTH (sizeof MODE_OPTION - 1)

const char *cmdline_from_physical(uint64_t address) {
	const char *cmdline = physical_to_pointer(address, CMDLINE_MAX_LENGTH);
	if (cmdline == NULL) {
		return "";
	}
	for (uint32_t i = 0; i < CMDLINE_MAX_LENGTH; i++) {
		if (cmdline[i] == '\0') {
			return cmdline;
		}
	}
	return "";
}

static bool is_separator(char c) {
	return c == ' ' || c == '\t' || c == '\n';
}

static bool starts_with(const char *text, const char *prefix) {
	while (*prefix) {
		if (*text++ != *prefix++) {
			return false;
		}
	}
	return true;
}

struct text_span cmdline_mode(const char *cmdline) {
	struct text_span mode = {DEFAULT_MODE, sizeof DEFAULT_MODE - 1};
	const char *word = cmdline;
	while (*word) {
		while (is_separator(*word)) {
			word++;
		}
		const char *end = word;
		while (*end && !is_separator(*end)) {
			end++;
		}
		/* Last one wins, as with Linux parameters, so a harness can append an override. */
		if (starts_with(word, MODE_OPTION)) {
			mode.start = word + MODE_OPTION_LENGTH;
			mode.length = (uint32_t)(end - mode.start);
		}
		word = end;
	}
	return mode;
}

bool text_span_equals(struct text_span span, const char *text) {
	for (uint32_t i = 0; i < span.length; i++) {
		if (text[i] != span.start[i]) {
			return false;
		}
	}
	return text[span.length] == '\0';
}
