// A minimal JSON value for `brig policy ... --json`: build, print, and parse back
// (the tests and scripts check the output structurally). No dependency.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace brig::policy_tool {

class Json {
public:
    using Array = std::vector<Json>;
    // Objects keep insertion order, so output reads in a stable, meaningful order.
    using Object = std::vector<std::pair<std::string, Json>>;

    Json() = default;  // null
    Json(bool b) : v_(b) {}
    Json(int n) : v_(static_cast<int64_t>(n)) {}
    Json(int64_t n) : v_(n) {}
    Json(uint64_t n) : v_(static_cast<int64_t>(n)) {}
    Json(const char* s) : v_(std::string(s)) {}
    Json(std::string s) : v_(std::move(s)) {}
    Json(std::string_view s) : v_(std::string(s)) {}
    Json(Array a) : v_(std::move(a)) {}
    Json(Object o) : v_(std::move(o)) {}

    static Json array() { return Json(Array{}); }
    static Json object() { return Json(Object{}); }

    bool is_null() const { return std::holds_alternative<std::monostate>(v_); }
    bool is_bool() const { return std::holds_alternative<bool>(v_); }
    bool is_number() const { return std::holds_alternative<int64_t>(v_); }
    bool is_string() const { return std::holds_alternative<std::string>(v_); }
    bool is_array() const { return std::holds_alternative<Array>(v_); }
    bool is_object() const { return std::holds_alternative<Object>(v_); }

    bool as_bool() const { return std::get<bool>(v_); }
    int64_t as_number() const { return std::get<int64_t>(v_); }
    const std::string& as_string() const { return std::get<std::string>(v_); }
    const Array& as_array() const { return std::get<Array>(v_); }
    const Object& as_object() const { return std::get<Object>(v_); }

    // Object access: set() appends or replaces; at() throws std::out_of_range.
    Json& set(const std::string& key, Json value);
    const Json& at(const std::string& key) const;
    bool has(const std::string& key) const;
    // Array access.
    void push(Json value) { std::get<Array>(v_).push_back(std::move(value)); }
    const Json& operator[](size_t i) const { return as_array().at(i); }
    size_t size() const;

    // Indented with two spaces, keys in insertion order, ending without a newline.
    std::string dump() const;

    // Throws std::runtime_error("offset N: problem") for anything that is not JSON.
    static Json parse(std::string_view text);

private:
    std::variant<std::monostate, bool, int64_t, std::string, Array, Object> v_;
    void dump_to(std::string& out, int indent) const;
};

}  // namespace brig::policy_tool
