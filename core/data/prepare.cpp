#include "core/data/prepare.h"

#include <filesystem>
#include <optional>

#include "core/data/read_rows.h"
#include "core/data/samples.h"
#include "core/util/error.h"

namespace lathe::data {

namespace fs = std::filesystem;

namespace {

// Bumped whenever rendering changes what it produces for the same inputs, so old caches are not reused.
constexpr int kRenderVersion = 1;

std::optional<RowType> configured_type(const std::string& type) {
    if (type == "pretokenized") return RowType::pretokenized;
    if (type == "alpaca") return RowType::alpaca;
    if (type == "chat_template") return RowType::chat;
    if (type == "completion") return RowType::text;
    return std::nullopt;  // "": detected per row
}

// Axolotl's keys as the column mapping to_sample reads (Lathe's name -> the file's).
ColumnMapping mapping_of(const DatasetSpec& spec) {
    ColumnMapping m;
    if (!spec.field.empty()) m["text"] = spec.field;
    if (!spec.field_messages.empty()) m["messages"] = spec.field_messages;
    if (spec.role_key != "role") m["role"] = spec.role_key;
    if (spec.content_key != "content") m["content"] = spec.content_key;
    return m;
}

const char* truncation_name(Truncation t) { return t == Truncation::right ? "right" : t == Truncation::left ? "left" : "drop"; }

}  // namespace

PreparedDataset prepare_dataset(const DatasetSpec& spec, const PrepareOptions& options) {
    if (!fs::exists(spec.path)) throw Error(spec.path + ": no such file or folder (datasets[].path)");
    const ColumnMapping mapping = mapping_of(spec);
    const std::optional<RowType> type = configured_type(spec.type);

    RenderOptions render;
    render.max_length = options.sequence_len;
    render.truncation = options.truncation;
    render.train_on_inputs = options.train_on_inputs;
    render.roles_to_train = spec.roles_to_train;
    render.train_on_eos = spec.train_on_eos;

    nlohmann::ordered_json mapping_json = nlohmann::ordered_json::object();
    for (const auto& [k, v] : mapping) mapping_json[k] = v;
    nlohmann::ordered_json settings = {
        {"render_version", kRenderVersion}, {"type", spec.type}, {"mapping", mapping_json},
        {"max_length", render.max_length}, {"truncation", truncation_name(render.truncation)},
        {"train_on_inputs", render.train_on_inputs}, {"roles_to_train", render.roles_to_train},
        {"train_on_eos", render.train_on_eos}, {"template_variables", render.template_variables},
    };
    TokenCacheKey key = make_token_cache_key({spec.path}, options.tokenizer_dir, settings);

    std::optional<TextTokenizer> tokenizer;  // loaded when the first row needs it (pretokenized rows do not)
    auto build = [&](TokenRowsBuilder& out) {
        auto reject = [&](Problem&& p) {
            if (options.strict) throw Error(p.to_string() + " (strict: true stops at the first row that cannot be used)");
            out.problem(p);
        };
        read_rows(spec.path, {}, [&](RawRow&& raw) {
            std::optional<RowType> t = type ? type : detect_row_type(raw.value, mapping);
            if (!t) {
                return reject(Problem{raw.file, raw.line, "",
                                      "cannot tell the row type from its fields (expected messages, conversations, instruction/output, "
                                      "prompt/completion, text or input_ids); set the dataset's type"});
            }
            auto sample = to_sample(raw, *t, mapping);
            if (auto* p = std::get_if<Problem>(&sample)) return reject(std::move(*p));
            Sample& s = std::get<Sample>(sample);
            if (s.type != RowType::pretokenized && !tokenizer) {
                if (!TextTokenizer::exists_in(options.tokenizer_dir))
                    throw Error(spec.path + ": its rows are text, which needs base_model's tokenizer, but " + options.tokenizer_dir +
                                " has no tokenizer.json or tokenizer.model");
                tokenizer = TextTokenizer::load(options.tokenizer_dir);
            }
            RenderOptions o = render;
            o.prompt_template = s.type == RowType::prompt_completion ? "none" : "alpaca";
            auto rendered = render_sample(s, tokenizer ? &*tokenizer : nullptr, o);
            if (auto* p = std::get_if<Problem>(&rendered)) return reject(std::move(*p));
            const RenderedRow& r = std::get<RenderedRow>(rendered);
            out.add(r.input_ids, r.labels);
        }, reject);
    };

    PreparedDataset d;
    TokenCacheResult cached = load_or_build_tokens(options.cache_dir, key, build);
    d.rows = std::move(cached.rows);
    d.reused = cached.reused;
    d.rebuilt_because = cached.rebuilt_because;
    d.skipped = static_cast<int64_t>(d.rows->problems().size());
    if (options.strict && d.skipped > 0)  // a cache built without strict remembers its bad rows
        throw Error(d.rows->problems().front().to_string() + " (strict: true stops at the first row that cannot be used)");
    const auto& content = key.described["data"][0];  // a file's hash, or a folder's {file: hash}
    d.fingerprint = {{"path", spec.path}, {"type", spec.type.empty() ? "auto" : spec.type}, {"weight", spec.weight},
                     {"content_xxh3_128", content.is_string() ? content.get<std::string>() : content.dump()}, {"rows", d.rows->size()}, {"skipped", d.skipped},
                     {"tokens", d.rows->total_tokens()}, {"cache", d.rows->path()}, {"cache_reused", d.reused}};
    return d;
}

}  // namespace lathe::data
