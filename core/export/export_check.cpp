#include "core/export/export_check.h"

#include <ATen/core/Tensor.h>
#include <ATen/core/grad_mode.h>
#include <ATen/ops/exp.h>
#include <ATen/ops/log_softmax.h>
#include <ATen/ops/tensor.h>

#include <cmath>
#include <filesystem>
#include <cstdlib>

#include "core/export/gguf_import.h"
#include "core/export/source_model.h"
#include "core/models/loader.h"
#include "core/text/text_tokenizer.h"
#include "core/util/error.h"
#include "core/util/remove_tree.h"

namespace lathe {

namespace fs = std::filesystem;

namespace {

// A little of what models are asked: prose, a list, code and numbers. The chat sample goes through each
// side's own chat template, so a template the export lost or changed shows in the tokens too.
const std::vector<std::string> kTexts = {
    "The river had frozen early that year, and the children of the village spent every afternoon on the ice, "
    "racing each other from the mill to the old stone bridge while their parents watched from the bank.",
    "To make a simple bread you need flour, water, salt and yeast. Mix them, knead the dough for ten minutes, "
    "let it rise for an hour, shape it, and bake it at 220 degrees until the crust is golden brown.",
    "def fibonacci(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n\nprint([fibonacci(i) for i in range(10)])\n",
    "In 1969, Apollo 11 landed on the Moon. Neil Armstrong and Buzz Aldrin spent about 21 hours on the surface, "
    "while Michael Collins orbited above in the command module Columbia.",
};
const nlohmann::ordered_json kChat = nlohmann::ordered_json::parse(
    R"([{"role": "user", "content": "What is the capital of France, and what is it known for?"},
        {"role": "assistant", "content": "The capital of France is Paris. It is known for the Eiffel Tower, the Louvre and its cafes."}])");
constexpr size_t kMaxTokens = 256;

struct Side {
    std::unique_ptr<LoadedModel> model;
    std::optional<TextTokenizer> tokenizer;
};

// Log-probabilities of the next token at every position but the last: [T - 1, V], float32.
at::Tensor next_token_log_probs(LoadedModel& model, const std::vector<int64_t>& ids) {
    at::NoGradGuard no_grad;
    at::Tensor input = at::tensor(ids).unsqueeze(0);
    at::Tensor logits = model.lm->forward(input)[0].to(at::kFloat);
    return at::log_softmax(logits.narrow(0, 0, static_cast<int64_t>(ids.size()) - 1), -1);
}

std::vector<int64_t> encode(const TextTokenizer& tokenizer, const std::string& text) {
    std::vector<int64_t> ids = tokenizer.encode(text).ids;
    if (ids.size() > kMaxTokens) ids.resize(kMaxTokens);
    return ids;
}

std::string eos_of(const TextTokenizer& t) {
    if (t.config().eos_token) return *t.config().eos_token;
    return t.eos_id() ? t.decode({*t.eos_id()}) : std::string();
}

std::string gguf_file_in(const std::string& dir) {
    for (const auto& entry : fs::directory_iterator(dir))
        if (entry.path().extension() == ".gguf") return entry.path().string();
    throw Error(dir + ": no .gguf file to verify");
}

}  // namespace

double expected_top1_agreement(const std::string& format, const std::string& gguf_type) {
    // Measured on SmolLM2-135M-Instruct with bench/export_check_thresholds.sh (docs/export.md has the
    // figures), with a margin below each: an export under these lost more than its format alone costs.
    if (format != "gguf") return 0.97;  // merged / peft: the same weights, in bfloat16 at most (0.988)
    if (gguf_type == "f32") return 0.995;                      // 1.000
    if (gguf_type == "f16" || gguf_type == "bf16") return 0.97;  // 1.000
    if (gguf_type == "q8_0") return 0.95;                      // 0.984
    if (gguf_type == "q6_k") return 0.90;                      // 0.957
    if (gguf_type == "q5_k_m" || gguf_type == "q4_k_m") return 0.80;  // 0.863, 0.898
    return 0.60;                                               // q4_0: 0.684
}

nlohmann::json ExportCheck::to_json() const {
    nlohmann::json j = {{"event", "export_verify"}, {"format", format}, {"texts", texts}, {"tokens", tokens},
                        {"top1_agreement", top1_agreement}, {"mean_kl", mean_kl}, {"perplexity_trained", perplexity_trained},
                        {"perplexity_exported", perplexity_exported}, {"tokenizer_same", tokenizer_same},
                        {"eos_trained", eos_trained}, {"eos_exported", eos_exported}, {"min_top1_agreement", min_top1_agreement},
                        {"warnings", warnings}};
    if (!gguf_type.empty()) j["gguf_type"] = gguf_type;
    j["chat_template_same"] = chat_template_same ? nlohmann::json(*chat_template_same) : nlohmann::json(nullptr);
    return j;
}

ExportCheck check_export(const ExportSource& source, const std::string& exported, const std::string& format, const std::string& gguf_type) {
    ExportCheck check;
    check.format = format;
    if (format == "gguf") check.gguf_type = gguf_type;
    check.min_top1_agreement = expected_top1_agreement(format, gguf_type);

    Side trained{load_export_model(source), TextTokenizer::load(source.base_model)};
    Side exp;
    std::string imported;  // the GGUF read back into a temporary folder, removed at the end
    struct Cleanup {
        std::string& dir;
        ~Cleanup() {
            if (!dir.empty()) remove_tree(dir);
        }
    } cleanup{imported};
    if (format == "merged") {
        exp.model = load_model(exported);
        exp.tokenizer = TextTokenizer::exists_in(exported) ? TextTokenizer::load(exported) : TextTokenizer::load(source.base_model);
    } else if (format == "peft") {
        ExportSource over_base = source;
        over_base.adapter_dir = exported;
        exp.model = load_export_model(over_base);
        exp.tokenizer = TextTokenizer::load(source.base_model);  // a PEFT adapter carries no tokenizer of its own
    } else if (format == "gguf") {
        std::string dir = (fs::temp_directory_path() / "lathe-verify-XXXXXX").string();
        if (!mkdtemp(dir.data())) throw Error(dir + ": cannot create a temporary folder to read the GGUF back into");
        imported = dir;
        const std::string model_dir = imported + "/model";
        import_gguf(gguf_file_in(exported), model_dir, {.dtype = "float32", .force = false});
        exp.model = load_model(model_dir);
        exp.tokenizer = TextTokenizer::load(model_dir);
    } else {
        throw Error("--verify: format '" + format + "' is not one Lathe checks");
    }
    if (!exp.model->lm) throw Error(exported + ": not a causal language model");
    if (exp.model->config.vocab_size != trained.model->config.vocab_size)
        throw Error(exported + ": vocabulary of " + std::to_string(exp.model->config.vocab_size) + " tokens, the trained model has " +
                    std::to_string(trained.model->config.vocab_size));

    std::vector<std::string> texts = kTexts;
    if (trained.tokenizer->has_chat_template()) {
        const std::string want = trained.tokenizer->apply_chat_template(kChat);
        std::string got;
        try {
            got = exp.tokenizer->has_chat_template() ? exp.tokenizer->apply_chat_template(kChat) : std::string();
        } catch (const std::exception& e) {
            check.warnings.push_back(std::string("the export's chat template fails: ") + e.what());
        }
        check.chat_template_same = got == want;
        if (got.empty()) check.warnings.push_back("the export carries no chat template; chat front ends will format prompts their own way");
        else if (got != want) check.warnings.push_back("the export's chat template renders a conversation differently from the trained model's");
        texts.push_back(want);
    }
    check.eos_trained = eos_of(*trained.tokenizer);
    check.eos_exported = eos_of(*exp.tokenizer);
    if (check.eos_trained != check.eos_exported)
        check.warnings.push_back("end-of-sequence token '" + check.eos_exported + "' where the trained model has '" + check.eos_trained +
                                 "': generation may not stop");

    double agree = 0, kl = 0, nll_trained = 0, nll_exported = 0;
    for (const std::string& text : texts) {
        const std::vector<int64_t> ids = encode(*trained.tokenizer, text);
        if (encode(*exp.tokenizer, text) != ids) check.tokenizer_same = false;
        if (ids.size() < 2) continue;
        const at::Tensor lt = next_token_log_probs(*trained.model, ids), le = next_token_log_probs(*exp.model, ids);
        const at::Tensor next = at::tensor(std::vector<int64_t>(ids.begin() + 1, ids.end())).unsqueeze(1);
        agree += lt.argmax(-1).eq(le.argmax(-1)).sum().item<double>();
        kl += (at::exp(lt) * (lt - le)).sum().item<double>();
        nll_trained -= lt.gather(1, next).sum().item<double>();
        nll_exported -= le.gather(1, next).sum().item<double>();
        check.tokens += static_cast<int64_t>(ids.size()) - 1;
        ++check.texts;
    }
    if (check.tokens == 0) throw Error("--verify: the sample texts gave no tokens to compare");
    const double n = static_cast<double>(check.tokens);
    check.top1_agreement = agree / n;
    check.mean_kl = kl / n;
    check.perplexity_trained = std::exp(nll_trained / n);
    check.perplexity_exported = std::exp(nll_exported / n);
    if (!check.tokenizer_same) check.warnings.push_back("the export's tokenizer splits the sample texts differently from the trained model's");
    if (check.top1_agreement < check.min_top1_agreement) {
        char buf[200];
        std::snprintf(buf, sizeof buf, "the export predicts the trained model's next token %.1f%% of the time; %s usually keeps %.0f%% or more",
                      100 * check.top1_agreement, (format == "gguf" ? gguf_type : format).c_str(), 100 * check.min_top1_agreement);
        check.warnings.push_back(buf);
    }
    return check;
}

}  // namespace lathe
