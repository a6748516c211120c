// Every case of the chat-template corpus (rendered by jinja2 3.1.6 in transformers'
// environment, see tests/fixtures/chat_templates/README.md) must render byte-identically, or
// fail the way jinja2 failed.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/chat/chat_template.h"

namespace {

namespace fs = std::filesystem;
using lathe::ChatTemplate;

const std::string kCorpus = std::string(LATHE_FIXTURES) + "/chat_templates";

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

struct CorpusCase {
    std::string tmpl;   // template name (file stem)
    std::string id;     // case id
    nlohmann::ordered_json data;
};

std::vector<std::string> template_names() {
    std::vector<std::string> names;
    if (!fs::is_directory(kCorpus)) return names;
    for (const auto& entry : fs::directory_iterator(kCorpus))
        if (entry.path().extension() == ".jinja") names.push_back(entry.path().stem().string());
    std::sort(names.begin(), names.end());
    return names;
}

std::vector<CorpusCase> load_cases() {
    std::vector<CorpusCase> cases;
    for (const auto& name : template_names()) {
        // ordered_json: tojson must print object keys in the order the corpus gives them.
        auto list = nlohmann::ordered_json::parse(slurp(fs::path(kCorpus) / (name + ".cases.json")));
        for (const auto& c : list) cases.push_back({name, c.at("case").get<std::string>(), c});
    }
    return cases;
}

// The clock the corpus pinned: 2026-01-15 (noon UTC, so any local timezone gives the same day).
std::time_t fixed_now() {
    std::tm tm{};
    tm.tm_year = 2026 - 1900;
    tm.tm_mon = 0;
    tm.tm_mday = 15;
    tm.tm_hour = 12;
    return timegm(&tm);
}

class Corpus : public ::testing::TestWithParam<CorpusCase> {};

TEST_P(Corpus, RendersLikeJinja2) {
    const CorpusCase& c = GetParam();
    ChatTemplate t = ChatTemplate::parse(slurp(fs::path(kCorpus) / (c.tmpl + ".jinja")), c.tmpl + ".jinja");
    lathe::RenderOptions options{.now = fixed_now};
    const auto& vars = c.data.at("variables");
    if (c.data.contains("rendered")) {
        EXPECT_EQ(t.render(vars, options), c.data.at("rendered").get<std::string>());
        return;
    }
    const std::string error_type = c.data.at("error_type").get<std::string>();
    if (error_type == "raise_exception") {
        try {
            t.render(vars, options);
            FAIL() << "expected raise_exception";
        } catch (const lathe::TemplateRaised& e) {
            EXPECT_EQ(std::string(e.what()), c.data.at("error").get<std::string>());
        }
    } else {
        EXPECT_THROW(t.render(vars, options), lathe::TemplateError) << error_type;
    }
}

std::string case_name(const ::testing::TestParamInfo<CorpusCase>& info) {
    std::string n = info.param.tmpl + "_" + info.param.id;
    for (char& ch : n)
        if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
    return n;
}

INSTANTIATE_TEST_SUITE_P(ChatTemplates, Corpus, ::testing::ValuesIn(load_cases()), case_name);

// Nothing silently skipped: the corpus README lists 15 templates and 185 cases.
TEST(CorpusSize, HasAllTemplatesAndCases) {
    EXPECT_EQ(template_names().size(), 15u);
    EXPECT_EQ(load_cases().size(), 185u);
}

}  // namespace
