#include "vmm/policy_tool/json.h"

#include <cctype>
#include <cstdio>
#include <stdexcept>

namespace brig::policy_tool {

Json& Json::set(const std::string& key, Json value) {
    auto& obj = std::get<Object>(v_);
    for (auto& [k, v] : obj)
        if (k == key) return v = std::move(value);
    obj.emplace_back(key, std::move(value));
    return obj.back().second;
}

const Json& Json::at(const std::string& key) const {
    for (const auto& [k, v] : as_object())
        if (k == key) return v;
    throw std::out_of_range("no key '" + key + "'");
}

bool Json::has(const std::string& key) const {
    if (!is_object()) return false;
    for (const auto& kv : as_object())
        if (kv.first == key) return true;
    return false;
}

size_t Json::size() const {
    if (is_array()) return as_array().size();
    if (is_object()) return as_object().size();
    return 0;
}

namespace {

void dump_string(std::string& out, const std::string& s) {
    out += '"';
    for (unsigned char c : s) {
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\t': out += "\\t"; break;
        case '\r': out += "\\r"; break;
        default:
            if (c < 0x20) {
                char buf[8];
                std::snprintf(buf, sizeof buf, "\\u%04x", c);
                out += buf;
            } else {
                out += static_cast<char>(c);  // UTF-8 passes through
            }
        }
    }
    out += '"';
}

void newline(std::string& out, int indent) {
    out += '\n';
    out.append(static_cast<size_t>(indent) * 2, ' ');
}

}  // namespace

void Json::dump_to(std::string& out, int indent) const {
    if (is_null()) {
        out += "null";
    } else if (is_bool()) {
        out += as_bool() ? "true" : "false";
    } else if (is_number()) {
        out += std::to_string(as_number());
    } else if (is_string()) {
        dump_string(out, as_string());
    } else if (is_array()) {
        const auto& a = as_array();
        if (a.empty()) {
            out += "[]";
            return;
        }
        // Arrays of scalars stay on one line.
        bool flat = true;
        for (const auto& v : a) flat = flat && !v.is_array() && !v.is_object();
        out += '[';
        for (size_t i = 0; i < a.size(); ++i) {
            if (i) out += flat ? ", " : ",";
            if (!flat) newline(out, indent + 1);
            a[i].dump_to(out, indent + 1);
        }
        if (!flat) newline(out, indent);
        out += ']';
    } else {
        const auto& o = as_object();
        if (o.empty()) {
            out += "{}";
            return;
        }
        out += '{';
        for (size_t i = 0; i < o.size(); ++i) {
            if (i) out += ',';
            newline(out, indent + 1);
            dump_string(out, o[i].first);
            out += ": ";
            o[i].second.dump_to(out, indent + 1);
        }
        newline(out, indent);
        out += '}';
    }
}

std::string Json::dump() const {
    std::string out;
    dump_to(out, 0);
    return out;
}

namespace {

class Reader {
public:
    explicit Reader(std::string_view s) : s_(s) {}

    Json document() {
        Json v = value();
        ws();
        if (pos_ != s_.size()) fail("trailing characters");
        return v;
    }

private:
    std::string_view s_;
    size_t pos_ = 0;
    int depth_ = 0;

    [[noreturn]] void fail(const std::string& what) const {
        throw std::runtime_error("offset " + std::to_string(pos_) + ": " + what);
    }
    void ws() {
        while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\n' || s_[pos_] == '\t' || s_[pos_] == '\r')) ++pos_;
    }
    bool eat(char c) {
        ws();
        if (pos_ < s_.size() && s_[pos_] == c) {
            ++pos_;
            return true;
        }
        return false;
    }
    void expect(char c) {
        if (!eat(c)) fail(std::string("expected '") + c + "'");
    }
    bool literal(std::string_view word) {
        if (s_.substr(pos_, word.size()) != word) return false;
        pos_ += word.size();
        return true;
    }

    Json value() {
        ws();
        if (pos_ >= s_.size()) fail("unexpected end");
        if (++depth_ > 64) fail("nested too deeply");
        Json v = value_inner();
        --depth_;
        return v;
    }

    Json value_inner() {
        char c = s_[pos_];
        if (c == '{') {
            ++pos_;
            Json obj = Json::object();
            if (eat('}')) return obj;
            do {
                ws();
                if (pos_ >= s_.size() || s_[pos_] != '"') fail("expected a key");
                std::string key = string();
                expect(':');
                obj.set(key, value());
            } while (eat(','));
            expect('}');
            return obj;
        }
        if (c == '[') {
            ++pos_;
            Json arr = Json::array();
            if (eat(']')) return arr;
            do arr.push(value());
            while (eat(','));
            expect(']');
            return arr;
        }
        if (c == '"') return Json(string());
        if (literal("true")) return Json(true);
        if (literal("false")) return Json(false);
        if (literal("null")) return Json();
        if (c == '-' || std::isdigit(static_cast<unsigned char>(c))) return number();
        fail(std::string("unexpected '") + c + "'");
    }

    Json number() {
        size_t start = pos_;
        if (s_[pos_] == '-') ++pos_;
        if (pos_ >= s_.size() || !std::isdigit(static_cast<unsigned char>(s_[pos_]))) fail("bad number");
        while (pos_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_]))) ++pos_;
        if (pos_ < s_.size() && (s_[pos_] == '.' || s_[pos_] == 'e' || s_[pos_] == 'E'))
            fail("only integers are used here");
        return Json(static_cast<int64_t>(std::stoll(std::string(s_.substr(start, pos_ - start)))));
    }

    std::string string() {
        ++pos_;  // opening quote
        std::string out;
        while (true) {
            if (pos_ >= s_.size()) fail("unterminated string");
            char c = s_[pos_++];
            if (c == '"') return out;
            if (static_cast<unsigned char>(c) < 0x20) fail("control character in string");
            if (c != '\\') {
                out += c;
                continue;
            }
            if (pos_ >= s_.size()) fail("unterminated escape");
            char e = s_[pos_++];
            switch (e) {
            case '"': out += '"'; break;
            case '\\': out += '\\'; break;
            case '/': out += '/'; break;
            case 'b': out += '\b'; break;
            case 'f': out += '\f'; break;
            case 'n': out += '\n'; break;
            case 'r': out += '\r'; break;
            case 't': out += '\t'; break;
            case 'u': {
                if (pos_ + 4 > s_.size()) fail("short \\u escape");
                unsigned cp = 0;
                for (int i = 0; i < 4; ++i) {
                    char h = s_[pos_++];
                    if (!std::isxdigit(static_cast<unsigned char>(h))) fail("bad \\u escape");
                    cp = cp * 16 + static_cast<unsigned>(std::isdigit(static_cast<unsigned char>(h)) ? h - '0' : (std::tolower(h) - 'a' + 10));
                }
                if (cp < 0x80) {
                    out += static_cast<char>(cp);
                } else if (cp < 0x800) {
                    out += static_cast<char>(0xc0 | (cp >> 6));
                    out += static_cast<char>(0x80 | (cp & 0x3f));
                } else {
                    out += static_cast<char>(0xe0 | (cp >> 12));
                    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
                    out += static_cast<char>(0x80 | (cp & 0x3f));
                }
                break;
            }
            default: fail(std::string("bad escape '\\") + e + "'");
            }
        }
    }
};

}  // namespace

Json Json::parse(std::string_view text) { return Reader(text).document(); }

}  // namespace brig::policy_tool
