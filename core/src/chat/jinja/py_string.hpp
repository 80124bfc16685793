// Python str semantics on UTF-8 strings: Python strings are sequences of code points, so lengths,
// indexes and slices count code points, and strip()/split() know Unicode whitespace.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hearth::jinja::py {

// Byte offset of the first invalid UTF-8 sequence, or nullopt when `s` is valid.
std::optional<size_t> invalid_utf8_offset(std::string_view s);

// Decoding maps an invalid byte to U+FFFD (inputs are validated where they enter).
std::u32string decode(std::string_view utf8);
std::string encode(std::u32string_view code_points);
void append_utf8(std::string& out, char32_t c);
size_t length(std::string_view utf8);

// str.isspace() for one code point.
bool is_space(char32_t c);

// str.strip/lstrip/rstrip: `chars` nullopt strips whitespace.
std::string strip(std::string_view s, const std::optional<std::string>& chars, bool left,
                  bool right);
// str.split/rsplit: `sep` nullopt splits on runs of whitespace; maxsplit < 0 means no limit.
std::vector<std::string> split(std::string_view s, const std::optional<std::string>& sep,
                               int64_t maxsplit);
std::vector<std::string> rsplit(std::string_view s, const std::optional<std::string>& sep,
                                int64_t maxsplit);
// str.splitlines(): \n, \r\n, \r, \v, \f, \x1c-\x1e, \x85, \u2028, \u2029 end lines.
std::vector<std::string> splitlines(std::string_view s, bool keepends);
// str.replace(old, new, count); count < 0 replaces all.
std::string replace(std::string_view s, std::string_view old_text, std::string_view new_text,
                    int64_t count);
// str.find / str.count over code points (find returns a code point index or -1).
int64_t find(std::string_view s, std::string_view sub);
int64_t rfind(std::string_view s, std::string_view sub);
int64_t count(std::string_view s, std::string_view sub);

// Full Unicode case mappings (ICU, root locale), as Python's str.upper()/lower().
std::string upper(std::string_view s);
std::string lower(std::string_view s);
// str.title() and str.capitalize(), with simple per-code-point mappings.
std::string title(std::string_view s);
std::string capitalize(std::string_view s);

// repr(str): quotes and escapes the way Python does.
std::string repr(std::string_view s);
// repr(float): the shortest round-trip digits, Python's layout (1.0, 1e-05, 1e+16, inf, nan).
std::string format_float(double d);
// markupsafe.escape: & < > ' " as entities.
std::string escape_html(std::string_view s);

}  // namespace hearth::jinja::py
