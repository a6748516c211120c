#include "ui/tokenizer_facts.h"

#include <QFileInfo>

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "core/text/text_tokenizer.h"
#include "core/text/tokenizer_config.h"
#include "core/util/error.h"

namespace {

QString q(const std::string& s) { return QString::fromStdString(s); }

// tokenizer.json's model type, with the pre-tokenizer when it says how text is split.
QString describeJson(const nlohmann::json& root) {
    QString type = root.contains("model") && root["model"].contains("type") ? q(root["model"]["type"].get<std::string>()) : "unknown";
    const auto& pre = root.value("pre_tokenizer", nlohmann::json());
    if (pre.is_object() && pre.contains("type")) {
        std::string kind = pre["type"];
        if (kind == "Sequence" && pre.contains("pretokenizers")) {
            QStringList parts;
            for (const auto& p : pre["pretokenizers"]) parts << q(p.value("type", "?"));
            return QObject::tr("%1 (%2 pre-tokenizers)").arg(type, parts.join(" + "));
        }
        return QObject::tr("%1 (%2 pre-tokenizer)").arg(type, q(kind));
    }
    return type;
}

}  // namespace

TokenizerFacts readTokenizerFacts(const QString& dir) {
    TokenizerFacts f;
    const std::string d = dir.toStdString();
    if (!lathe::TextTokenizer::exists_in(d)) return f;
    f.found = true;
    try {
        lathe::TextTokenizer tok = lathe::TextTokenizer::load(d);
        f.file = q(tok.backend().source());
        f.vocab_size = tok.backend().vocab_size();
        std::set<std::string> named;
        auto special = [&](const char* role, const std::optional<std::string>& token) {
            if (!token) return;
            named.insert(*token);
            auto id = tok.backend().token_to_id(*token);
            f.special_tokens << (id ? QObject::tr("%1: %2 (id %3)").arg(role, q(*token)).arg(*id) : QObject::tr("%1: %2").arg(role, q(*token)));
        };
        const lathe::TokenizerConfig& c = tok.config();
        special("BOS", c.bos_token);
        special("EOS", c.eos_token);
        special("PAD", c.pad_token);
        special("UNK", c.unk_token);
        special("SEP", c.sep_token);
        special("CLS", c.cls_token);
        special("MASK", c.mask_token);
        if (c.model_max_length) f.model_max_length = *c.model_max_length;
        if (auto it = c.chat_templates.find("default"); it != c.chat_templates.end()) {
            f.chat_template = q(it->second);
            f.chat_template_file = q(c.chat_template_source);
        }
        if (QFileInfo(f.file).fileName() == "tokenizer.json") {
            // The type and the other special tokens are in tokenizer.json itself.
            nlohmann::json root = nlohmann::json::parse(std::ifstream(f.file.toStdString()));
            f.type = describeJson(root);
            QStringList others;
            for (const auto& t : root.value("added_tokens", nlohmann::json::array()))
                if (t.value("special", false) && !named.count(t.value("content", ""))) others << q(t.value("content", ""));
            constexpr int kShown = 12;  // chat models carry hundreds of reserved tokens
            if (others.size() > kShown) {
                qsizetype more = others.size() - kShown;
                others = others.mid(0, kShown);
                others << QObject::tr("… and %1 more").arg(more);
            }
            if (!others.isEmpty()) f.special_tokens << QObject::tr("other: %1").arg(others.join("  "));
        } else {
            f.type = "SentencePiece";
        }
    } catch (const std::exception& e) {  // lathe::Error or a JSON parse error: shown, never fatal
        f.error = q(e.what());
    }
    return f;
}
