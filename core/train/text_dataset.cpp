#include "core/train/text_dataset.h"

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/util/error.h"
#include "core/util/json_file.h"

namespace lathe {

namespace {

void add_document(const std::string& text, const TextTokenizer& tokenizer, int64_t sequence_len, std::vector<Example>& out) {
    std::vector<int64_t> ids = tokenizer.encode(text, true).ids;
    if (tokenizer.eos_id() && (ids.empty() || ids.back() != *tokenizer.eos_id())) ids.push_back(*tokenizer.eos_id());
    for (size_t start = 0; start < ids.size(); start += static_cast<size_t>(sequence_len)) {
        size_t end = std::min(ids.size(), start + static_cast<size_t>(sequence_len));
        if (end - start < 2) break;  // a lone token predicts nothing
        Example e;
        e.input_ids.assign(ids.begin() + start, ids.begin() + end);
        e.labels = e.input_ids;
        out.push_back(std::move(e));
    }
}

}  // namespace

std::vector<Example> read_text_dataset(const std::string& path, const TextTokenizer& tokenizer, int64_t sequence_len) {
    std::vector<Example> out;
    const bool jsonl = path.size() > 6 && path.compare(path.size() - 6, 6, ".jsonl") == 0;
    if (!jsonl) {
        std::ifstream in(path, std::ios::binary);
        if (!in) throw Error(path + ": cannot open");
        std::stringstream s;
        s << in.rdbuf();
        add_document(s.str(), tokenizer, sequence_len, out);
        return out;
    }
    for_each_jsonl(path, [&](size_t number, const nlohmann::json& j) {
        if (!j.is_object() || !j.contains("text") || !j["text"].is_string())
            throw Error(path + ":" + std::to_string(number) + ": expected an object with a string field \"text\"");
        add_document(j["text"].get<std::string>(), tokenizer, sequence_len, out);
    });
    return out;
}

}  // namespace lathe
