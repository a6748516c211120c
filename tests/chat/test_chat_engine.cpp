// Unit tests of the Jinja engine behind ChatTemplate. The table cases' expected outputs were
// produced by real jinja2 (make_engine_cases.py writes engine_cases.inc); the hand-written tests
// below check Lathe's own contract (exception types, line numbers in messages, key order).
#include <gtest/gtest.h>

#include <string>

#include "core/chat/chat_template.h"

namespace {

using lathe::ChatTemplate;
using lathe::RenderOptions;
using lathe::TemplateError;
using lathe::TemplateRaised;
using json = nlohmann::ordered_json;

enum class Outcome { Rendered, Raised, Error, SyntaxError };

struct EngineCase {
    const char* group;
    const char* source;
    const char* variables;
    Outcome outcome;
    const char* expected;
};

const EngineCase kCases[] = {
#include "engine_cases.inc"
};

// jinja2's clock in make_engine_cases.py: 2026-01-15 (noon UTC keeps the day in any timezone).
std::time_t fixed_now() {
    std::tm tm{};
    tm.tm_year = 2026 - 1900;
    tm.tm_mday = 15;
    tm.tm_hour = 12;
    return timegm(&tm);
}

std::string render(const std::string& source, const json& vars = json::object()) {
    return ChatTemplate::parse(source, "t").render(vars, RenderOptions{.now = fixed_now});
}

class Engine : public ::testing::TestWithParam<EngineCase> {};

TEST_P(Engine, MatchesJinja2) {
    const EngineCase& c = GetParam();
    const json vars = json::parse(c.variables);
    SCOPED_TRACE(c.source);
    switch (c.outcome) {
        case Outcome::Rendered: EXPECT_EQ(render(c.source, vars), c.expected); break;
        case Outcome::Raised:
            try {
                render(c.source, vars);
                ADD_FAILURE() << "expected raise_exception";
            } catch (const TemplateRaised& e) {
                EXPECT_EQ(std::string(e.what()), c.expected);
            }
            break;
        case Outcome::Error:
            // jinja2 raised c.expected (TypeError, UndefinedError, ...): the message names the template.
            try {
                render(c.source, vars);
                ADD_FAILURE() << "expected " << c.expected;
            } catch (const TemplateError& e) {
                EXPECT_EQ(std::string(e.what()).rfind("t:", 0), 0u) << e.what();
            }
            break;
        case Outcome::SyntaxError: {
            // c.expected is "line N: message"; parse() must fail naming the same line.
            std::string line = std::string(c.expected).substr(5, std::string(c.expected).find(':') - 5);
            try {
                ChatTemplate::parse(c.source, "t");
                ADD_FAILURE() << "expected a syntax error";
            } catch (const TemplateError& e) {
                EXPECT_EQ(std::string(e.what()).rfind("t:" + line + ":", 0), 0u) << e.what() << " vs " << c.expected;
            }
            break;
        }
    }
}

std::string engine_case_name(const ::testing::TestParamInfo<EngineCase>& info) {
    return std::string(info.param.group) + "_" + std::to_string(info.index);
}

INSTANTIATE_TEST_SUITE_P(Jinja2, Engine, ::testing::ValuesIn(kCases), engine_case_name);

TEST(ChatEngine, RaisedMessageIsExactAndNotATemplateError) {
    try {
        render("{% if true %}\n{{ raise_exception('Conversation roles must alternate!') }}{% endif %}");
        FAIL();
    } catch (const TemplateRaised& e) {
        EXPECT_STREQ(e.what(), "Conversation roles must alternate!");
        const lathe::Error& base = e;  // both exception types are lathe::Error
        (void)base;
    } catch (const TemplateError&) {
        FAIL() << "raise_exception must not be a TemplateError";
    }
}

TEST(ChatEngine, RuntimeErrorsNameTemplateAndLine) {
    try {
        ChatTemplate::parse("line1\nline2\n{{ 'a' + 1 }}", "my.jinja").render(json::object());
        FAIL();
    } catch (const TemplateError& e) {
        EXPECT_EQ(std::string(e.what()), "my.jinja:3: can only concatenate str (not \"int\") to str");
    }
    try {
        render("{% for m in messages %}\n\n{{ m.x.y }}{% endfor %}", json{{"messages", json::array({json::object()})}});
        FAIL();
    } catch (const TemplateError& e) {
        EXPECT_EQ(std::string(e.what()).rfind("t:3:", 0), 0u) << e.what();
    }
}

TEST(ChatEngine, SyntaxErrorNamesLine) {
    try {
        ChatTemplate::parse("{% if x %}\nok\n{% endfor %}", "bad.jinja");
        FAIL();
    } catch (const TemplateError& e) {
        EXPECT_EQ(std::string(e.what()), "bad.jinja:3: Encountered unknown tag 'endfor'.");
    }
    EXPECT_THROW(ChatTemplate::parse("{{ 1 +"), TemplateError);
    EXPECT_THROW(ChatTemplate::parse("{% macro %}"), TemplateError);
}

TEST(ChatEngine, TojsonKeepsVariableKeyOrder) {
    json vars = json::parse(R"({"tool": {"name": "f", "description": "d", "parameters": {"z": 1, "a": 2}}})");
    EXPECT_EQ(render("{{ tool|tojson }}", vars), R"({"name": "f", "description": "d", "parameters": {"z": 1, "a": 2}})");
}

TEST(ChatEngine, ParsedOnceRendersMany) {
    ChatTemplate t = ChatTemplate::parse("{% for m in messages %}{{ m }};{% endfor %}");
    EXPECT_EQ(t.render(json{{"messages", {"a", "b"}}}), "a;b;");
    ChatTemplate moved = std::move(t);
    EXPECT_EQ(moved.render(json{{"messages", json::array()}}), "");
}

TEST(ChatEngine, StrftimeNowDefaultsToSystemClock) {
    std::string year = ChatTemplate::parse("{{ strftime_now('%Y') }}").render(json::object());
    EXPECT_EQ(year.size(), 4u);
}

TEST(ChatEngine, MissingVariablesObjectIsEmpty) { EXPECT_EQ(ChatTemplate::parse("[{{ x }}]").render(json()), "[]"); }

}  // namespace
