#include "core/data/samples.h"

#include "core/util/error.h"

namespace lathe::data {

namespace {

using Json = nlohmann::ordered_json;

std::string mapped(const ColumnMapping& mapping, const std::string& name) {
    auto it = mapping.find(name);
    return it == mapping.end() ? name : it->second;
}

// Fills a sample field by field; the first fault becomes the Problem.
struct SampleBuilder {
    const RawRow& row;
    const ColumnMapping& mapping;
    std::optional<Problem> problem;

    bool fail(const std::string& field, const std::string& message) {
        if (!problem) problem = Problem{row.file, row.line, field, message};
        return false;
    }
    const Json* find(const std::string& name) const {
        auto it = row.value.find(mapped(mapping, name));
        return it == row.value.end() ? nullptr : &*it;
    }
    std::string missing_message(const std::string& name) const {
        std::string file_name = mapped(mapping, name);
        std::string keys;
        for (const auto& [key, value] : row.value.items()) keys += (keys.empty() ? "'" : ", '") + key + "'";
        return "missing (the row has " + (keys.empty() ? std::string("no fields") : keys) + ")" +
               (file_name == name ? "; map another field to '" + name + "' if it holds this" : "");
    }
    // A required (or, with `optional`, possibly absent or null) string field.
    bool string_field(const std::string& name, std::string& out, bool optional = false) {
        const Json* v = find(name);
        std::string field = mapped(mapping, name);
        if (!v || (optional && v->is_null())) return optional || fail(field, missing_message(name));
        if (!v->is_string()) return fail(field, std::string("expected a string, found ") + v->type_name());
        out = v->get<std::string>();
        return true;
    }
    bool ids_field(const std::string& name, std::vector<int64_t>& out, bool optional = false) {
        const Json* v = find(name);
        std::string field = mapped(mapping, name);
        if (!v || (optional && v->is_null())) return optional || fail(field, missing_message(name));
        if (!v->is_array()) return fail(field, std::string("expected a list of integers, found ") + v->type_name());
        out.reserve(v->size());
        for (size_t i = 0; i < v->size(); ++i) {
            const Json& id = (*v)[i];
            if (!id.is_number_integer()) return fail(field + "[" + std::to_string(i) + "]", std::string("expected an integer, found ") + id.type_name());
            out.push_back(id.get<int64_t>());
        }
        return true;
    }
};

std::optional<std::string> standard_role(const std::string& role) {
    if (role == "user" || role == "human") return "user";
    if (role == "assistant" || role == "gpt" || role == "model") return "assistant";
    if (role == "system") return "system";
    if (role == "tool" || role == "function" || role == "observation" || role == "ipython") return "tool";
    return std::nullopt;
}

bool read_messages(SampleBuilder& b, Sample& s) {
    std::string field = mapped(b.mapping, "messages");
    const Json* list = b.find("messages");
    if (!list) {
        field = mapped(b.mapping, "conversations");
        list = b.find("conversations");
    }
    if (!list)
        return b.fail(mapped(b.mapping, "messages"), "missing: a chat row needs 'messages' (OpenAI: role/content) or 'conversations' (ShareGPT: from/value)");
    if (!list->is_array()) return b.fail(field, std::string("expected a list of messages, found ") + list->type_name());
    if (list->empty()) return b.fail(field, "empty conversation (no messages)");
    std::string role_key = mapped(b.mapping, "role"), content_key = mapped(b.mapping, "content");
    for (size_t i = 0; i < list->size(); ++i) {
        const Json& m = (*list)[i];
        std::string where = field + "[" + std::to_string(i) + "]";
        if (!m.is_object()) return b.fail(where, std::string("expected a message object, found ") + m.type_name());
        std::string rk = m.contains(role_key) ? role_key : "from", ck = m.contains(content_key) ? content_key : "value";
        if (!m.contains(rk)) return b.fail(where + "." + role_key, "missing (a message needs 'role', or ShareGPT's 'from')");
        const Json& role = m[rk];
        if (!role.is_string()) return b.fail(where + "." + rk, std::string("expected a string, found ") + role.type_name());
        auto standard = standard_role(role.get<std::string>());
        if (!standard)
            return b.fail(where + "." + rk, "unknown role '" + role.get<std::string>() +
                                                 "' (expected system, user, assistant or tool; ShareGPT's human, gpt, function and observation are understood too)");
        Message msg;
        msg.role = *standard;
        if (!m.contains(ck)) {
            if (!m.contains("tool_calls")) return b.fail(where + "." + content_key, "missing (a message needs 'content', or ShareGPT's 'value')");
        } else if (m[ck].is_string()) {
            msg.content = m[ck].get<std::string>();
        } else if (m[ck].is_array()) {  // [{"type": "text", "text": "..."}]: the text parts, in order
            for (size_t k = 0; k < m[ck].size(); ++k) {
                const Json& part = m[ck][k];
                if (!part.is_object() || part.value("type", "") != "text" || !part.contains("text") || !part["text"].is_string())
                    return b.fail(where + "." + ck + "[" + std::to_string(k) + "]", "only text parts ({\"type\": \"text\", \"text\": ...}) are supported");
                msg.content += part["text"].get<std::string>();
            }
        } else if (!(m[ck].is_null() && m.contains("tool_calls"))) {
            return b.fail(where + "." + ck, std::string("expected a string, found ") + m[ck].type_name());
        }
        for (const auto& [key, value] : m.items())
            if (key != rk && key != ck) msg.extra[key] = value;
        s.messages.push_back(std::move(msg));
    }
    return true;
}

bool read_alpaca(SampleBuilder& b, Sample& s) {
    std::string instruction, input, output, system;
    if (!b.string_field("instruction", instruction) || !b.string_field("input", input, true) || !b.string_field("output", output) ||
        !b.string_field("system", system, true))
        return false;
    if (!system.empty()) s.messages.push_back(Message{"system", system, Json::object()});
    Message user{"user", instruction, Json::object()};
    if (!input.empty()) user.extra["input"] = input;  // render.cpp places it as the prompt template says
    s.messages.push_back(std::move(user));
    s.messages.push_back(Message{"assistant", output, Json::object()});
    return true;
}

bool read_label(SampleBuilder& b, Sample& s) {
    const Json* v = b.find("label");
    std::string field = mapped(b.mapping, "label");
    if (!v) return b.fail(field, b.missing_message("label"));
    if (v->is_string()) s.label = v->get<std::string>();
    else if (v->is_number_integer() || v->is_boolean()) s.label = v->dump();
    else return b.fail(field, std::string("expected a string or an integer, found ") + v->type_name());
    return true;
}

bool read_pretokenized(SampleBuilder& b, Sample& s) {
    if (!b.ids_field("input_ids", s.input_ids) || !b.ids_field("labels", s.labels, true) || !b.ids_field("attention_mask", s.attention_mask, true))
        return false;
    if (s.input_ids.empty()) return b.fail(mapped(b.mapping, "input_ids"), "empty (no tokens)");
    for (const auto* name : {"labels", "attention_mask"}) {
        const auto& v = std::string(name) == "labels" ? s.labels : s.attention_mask;
        if (!v.empty() && v.size() != s.input_ids.size())
            return b.fail(mapped(b.mapping, name), "has " + std::to_string(v.size()) + " entries but " + mapped(b.mapping, "input_ids") + " has " +
                                                       std::to_string(s.input_ids.size()));
    }
    return true;
}

}  // namespace

std::optional<RowType> detect_row_type(const nlohmann::ordered_json& row, const ColumnMapping& mapping) {
    if (!row.is_object()) return std::nullopt;
    auto has = [&](const char* name) { return row.contains(mapped(mapping, name)); };
    if (has("messages") || has("conversations")) return RowType::chat;
    if (has("input_ids")) return RowType::pretokenized;
    if (has("instruction") && has("output")) return RowType::alpaca;
    if (has("prompt") && has("completion")) return RowType::prompt_completion;
    if (has("text") && has("label")) return RowType::classification;
    if (has("text")) return RowType::text;
    return std::nullopt;
}

std::vector<std::string> row_type_fields(RowType type) {
    switch (type) {
        case RowType::automatic: return {};
        case RowType::alpaca: return {"instruction", "output", "input", "system"};
        case RowType::chat: return {"messages"};
        case RowType::prompt_completion: return {"prompt", "completion"};
        case RowType::text: return {"text"};
        case RowType::pretokenized: return {"input_ids", "labels", "attention_mask"};
        case RowType::classification: return {"text", "label"};
    }
    return {};
}

std::variant<Sample, Problem> to_sample(const RawRow& row, RowType type, const ColumnMapping& mapping) {
    LATHE_ASSERT(type != RowType::automatic);
    SampleBuilder b{row, mapping, std::nullopt};
    Sample s;
    s.type = type;
    s.file = row.file;
    s.line = row.line;
    switch (type) {
        case RowType::automatic: break;
        case RowType::chat: read_messages(b, s); break;
        case RowType::alpaca: read_alpaca(b, s); break;
        case RowType::prompt_completion: b.string_field("prompt", s.prompt) && b.string_field("completion", s.completion); break;
        case RowType::text: b.string_field("text", s.text); break;
        case RowType::classification: b.string_field("text", s.text) && read_label(b, s); break;
        case RowType::pretokenized: read_pretokenized(b, s); break;
    }
    if (b.problem) return *b.problem;
    return s;
}

ColumnMapping parse_column_mapping(const std::string& text) {
    ColumnMapping mapping;
    size_t start = 0;
    while (start <= text.size()) {
        size_t comma = text.find(',', start);
        std::string entry = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        if (!entry.empty()) {
            auto eq = entry.find('=');
            if (eq == std::string::npos || eq == 0 || eq + 1 == entry.size())
                throw Error("column mapping '" + entry + "': expected LATHE_NAME=FILE_FIELD, e.g. instruction=question");
            mapping[entry.substr(0, eq)] = entry.substr(eq + 1);
        }
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    return mapping;
}

}  // namespace lathe::data
