// References made by the tokenizers library itself (tests/interop/make_tokenizer_references.py) for
// every component Lathe reads. The folder comes from LATHE_TOKENIZER_REFS; without it the test skips.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "core/tokenizer/tokenizer.h"
#include "core/util/json_file.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string from_hex(const std::string& hex) {
    std::string out;
    for (size_t i = 0; i + 1 < hex.size(); i += 2) out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
    return out;
}

std::vector<std::pair<size_t, size_t>> offsets_of(const json& j) {
    std::vector<std::pair<size_t, size_t>> out;
    for (const auto& o : j) out.emplace_back(o[0].get<size_t>(), o[1].get<size_t>());
    return out;
}

template <typename T>
std::string show(const std::vector<T>& v) {
    std::ostringstream s;
    s << "[";
    for (size_t i = 0; i < v.size(); ++i) s << (i ? "," : "") << +v[i];
    return s.str() + "]";
}
std::string show(const std::vector<std::pair<size_t, size_t>>& v) {
    std::ostringstream s;
    for (auto [b, e] : v) s << "(" << b << "," << e << ")";
    return s.str();
}

// Compares one tokenizer's cases; returns the number of mismatches and describes the first few.
int check_tokenizer(const fs::path& dir, std::string& report) {
    auto tok = lathe::Tokenizer::from_file((dir / "tokenizer.json").string());
    auto refs = lathe::read_json_file((dir / "references.json").string());
    int bad = 0;
    auto note = [&](const std::string& what) {
        if (++bad <= 3) report += "  " + dir.filename().string() + ": " + what + "\n";
    };
    if (tok.vocab_size() != refs.at("vocab_size").get<int64_t>())
        note("vocab_size " + std::to_string(tok.vocab_size()) + " want " + refs.at("vocab_size").dump());
    for (const auto& a : refs.at("added_tokens")) {
        const std::string content = a[0].get<std::string>();
        auto id = tok.token_to_id(content);
        if (a[1].is_null() != !id.has_value() || (id && *id != a[1].get<int64_t>()))
            note("token_to_id('" + content + "') differs, want " + a[1].dump());
        if (id && tok.id_to_token(*id) != a[2].get<std::string>())
            note("id_to_token(" + std::to_string(*id) + ") = '" + tok.id_to_token(*id).value_or("?") + "' want " + a[2].dump());
    }
    for (const auto& c : refs.at("cases")) {
        const std::string input = from_hex(c.at("hex").get<std::string>());
        const std::string label = "'" + c.at("text").get<std::string>() + "'";
        auto plain = tok.encode(input, false);
        auto special = tok.encode(input, true);
        auto ids = c.at("ids").get<std::vector<int64_t>>();
        auto ids_special = c.at("ids_special").get<std::vector<int64_t>>();
        if (plain.ids != ids) note(label + " ids " + show(plain.ids) + " want " + show(ids));
        else if (plain.offsets != offsets_of(c.at("offsets")))
            note(label + " offsets " + show(plain.offsets) + " want " + show(offsets_of(c.at("offsets"))));
        if (special.ids != ids_special) note(label + " ids_special " + show(special.ids) + " want " + show(ids_special));
        else if (special.offsets != offsets_of(c.at("offsets_special")))
            note(label + " offsets_special " + show(special.offsets) + " want " + show(offsets_of(c.at("offsets_special"))));
        else if (special.special_tokens_mask != c.at("special_tokens_mask").get<std::vector<uint8_t>>())
            note(label + " special_tokens_mask " + show(special.special_tokens_mask));
        struct {
            const char* key;
            std::vector<int64_t> ids;
            bool skip;
        } decodes[] = {{"decoded", ids_special, false},
                       {"decoded_skip", ids_special, true},
                       {"decoded_prefix", std::vector<int64_t>(ids_special.begin(), ids_special.begin() + ids_special.size() / 2), false}};
        for (const auto& d : decodes) {
            if (c.at(d.key).is_null()) continue;  // the library panicked on this one
            std::string got = tok.decode(d.ids, d.skip), want = c.at(d.key).get<std::string>();
            if (got != want) note(label + " " + d.key + " '" + got + "' want '" + want + "'");
        }
    }
    return bad;
}

TEST(InteropRefs, EveryComponentMatchesTheRustLibrary) {
    const char* env = std::getenv("LATHE_TOKENIZER_REFS");
    if (!env || !*env) GTEST_SKIP() << "LATHE_TOKENIZER_REFS is not set (see tests/interop/make_tokenizer_references.py)";
    std::vector<fs::path> dirs;
    for (const auto& e : fs::directory_iterator(env))
        if (fs::exists(e.path() / "references.json")) dirs.push_back(e.path());
    std::sort(dirs.begin(), dirs.end());
    ASSERT_GE(dirs.size(), 40u) << "too few reference tokenizers in " << env;
    std::string report;
    int failing = 0;
    for (const auto& d : dirs) {
        int bad = 0;
        try {
            bad = check_tokenizer(d, report);
        } catch (const std::exception& e) {
            report += "  " + d.filename().string() + ": threw " + e.what() + "\n";
            bad = 1;
        }
        if (bad) {
            ++failing;
            report += "  " + d.filename().string() + ": " + std::to_string(bad) + " mismatches\n";
        }
    }
    EXPECT_EQ(failing, 0) << failing << " of " << dirs.size() << " tokenizers differ:\n" << report;
}

}  // namespace
