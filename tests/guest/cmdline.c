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

static bool parse_number(const char *text, const char *end, uint64_t *out) {
	uint64_t value = 0;
	uint32_t base = 10;
	if (end - text > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
		base = 16;
		text += 2;
	}
	if (text == end) {
		return false;
	}
	for (; text < end; text++) {
		char c = *text;
		uint32_t digit;
		if (c >= '0' && c <= '9') {
			digit = (uint32_t)(c - '0');
		} else if (base == 16 && c >= 'a' && c <= 'f') {
			digit = (uint32_t)(c - 'a' + 10);
		} else if (base == 16 && c >= 'A' && c <= 'F') {
			digit = (uint32_t)(c - 'A' + 10);
		} else {
			return false;
		}
		/* Multiply by shifts and adds: no 64-bit library multiply is needed either way. */
		value = base == 16 ? (value << 4) | digit : (value << 3) + (value << 1) + digit;
	}
	*out = value;
	return true;
}

/*
 * The value of the last "NAME=" word: [*start, *end). False when there is none.
 * Last one wins, like mode=, so a harness can append an override.
 */
static bool last_value(const char *cmdline, const char *name_with_equals, const char **start, const char **end) {
	bool found = false;
	const char *word = cmdline;
	while (*word) {
		while (is_separator(*word)) {
			word++;
		}
		const char *word_end = word;
		while (*word_end && !is_separator(*word_end)) {
			word_end++;
		}
		if (starts_with(word, name_with_equals)) {
			const char *value = word;
			while (*value != '=') {
				value++;
			}
			*start = value + 1;
			*end = word_end;
			found = true;
		}
		word = word_end;
	}
	return found;
}

uint64_t cmdline_number(const char *cmdline, const char *name_with_equals, uint64_t fallback) {
	const char *start;
	const char *end;
	uint64_t parsed;
	if (last_value(cmdline, name_with_equals, &start, &end) && parse_number(start, end, &parsed)) {
		return parsed;
	}
	return fallback;
}

/* Four decimal parts of 0..255 with dots between them, nothing else. */
static bool parse_ipv4(const char *text, const char *end, uint32_t *out) {
	uint32_t address = 0;
	for (uint32_t part = 0; part < 4; part++) {
		if (part > 0) {
			if (text == end || *text != '.') {
				return false;
			}
			text++;
		}
		uint32_t value = 0;
		uint32_t digits = 0;
		while (text < end && *text >= '0' && *text <= '9' && digits < 4) {
			value = value * 10 + (uint32_t)(*text - '0');
			text++;
			digits++;
		}
		if (digits == 0 || digits > 3 || value > 255) {
			return false;
		}
		address = (address << 8) | value;
	}
	if (text != end) {
		return false;
	}
	*out = address;
	return true;
}

uint32_t cmdline_ipv4(const char *cmdline, const char *name_with_equals, uint32_t fallback) {
	const char *start;
	const char *end;
	uint32_t parsed;
	if (last_value(cmdline, name_with_equals, &start, &end) && parse_ipv4(start, end, &parsed)) {
		return parsed;
	}
	return fallback;
}
