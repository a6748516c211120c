// A document turned into prompt text, target and choices as the harness's ConfigurableTask does:
// doc_to_text / doc_to_target / doc_to_choice name a field (its value as is) or are Jinja templates
// rendered in the harness's environment (StrictUndefined, keep_trailing_newline, no block trimming)
// through core/chat; a rendered target of digits is an index into the choices, a rendered "[...]" a
// list (Python literal syntax), a rendered doc_to_choice always a Python list literal. Torch-free.
#pragma once

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/chat/chat_template.h"
#include "core/eval/task_config.h"
#include "core/eval/task_docs.h"

namespace lathe::eval {

class DocFormatter {
public:
    DocFormatter(const TaskConfig& config, std::vector<std::string> features);

    std::string text(const Doc& doc) const;
    // An int (index into choices), a string, or a list (several targets).
    nlohmann::ordered_json target(const Doc& doc) const;
    std::vector<std::string> choices(const Doc& doc) const;
    bool has_choices() const { return !config_.doc_to_choice.is_null(); }
    // The description, a field or a template like the rest ("" when none).
    std::string description(const Doc& doc) const;

private:
    std::string render(const std::string& source, const Doc& doc, const char* key) const;
    const TaskConfig& config_;
    std::vector<std::string> features_;
    mutable std::map<std::string, std::shared_ptr<const ChatTemplate>> templates_;
};

// Python's ast.literal_eval for what templates print: lists/tuples of str, int, float, bool, None.
nlohmann::ordered_json python_literal(const std::string& text);

// Python str methods the harness relies on, over UTF-8.
bool py_isdigit(const std::string& s);
bool py_isspace(char32_t c);
std::string py_rstrip(const std::string& s);
std::string py_strip(const std::string& s);
size_t py_len(const std::string& s);  // code points
// A JSON value as Python's str() prints it (str for strings, repr-like for the rest).
std::string py_str(const nlohmann::ordered_json& v);

}  // namespace lathe::eval
