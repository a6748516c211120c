// Decontamination (core/data/decontaminate.h): the harness's normalisation, and eval items planted in a
// large generated training file, verbatim and edited, found at their rows; nothing found in clean rows.
#include <gtest/gtest.h>

#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <set>

#include "core/data/decontaminate.h"
#include "core/util/error.h"
#include "tests/data/data_test_util.h"

namespace lathe::data {
namespace {

using Json = nlohmann::ordered_json;

std::vector<std::string> words_of(const std::string& text) {
    std::string buffer;
    std::vector<std::string_view> words;
    normalized_words(text, buffer, words);
    return {words.begin(), words.end()};
}

// Janitor.normalize_string then str.split(), worked out by hand from lm_eval/decontamination/janitor.py:
// only ASCII letters are lowercased, only string.punctuation is deleted (inside words too, joining
// their halves), and every Unicode whitespace character splits.
TEST(Decontaminate, NormalisesAsTheHarnessJanitor) {
    EXPECT_EQ(words_of("  Hello,  WORLD!\tIt's a--b ... x"), (std::vector<std::string>{"hello", "world", "its", "ab", "x"}));
    EXPECT_EQ(words_of("ÄPFEL Straße \u00c9t\u00c9"), (std::vector<std::string>{"Äpfel", "straße", "\u00c9t\u00c9"}));
    // U+00A0, U+2003, U+3000, U+0085, U+2028 and the ASCII separators \x1c-\x1f split words; U+200B does not.
    EXPECT_EQ(words_of("a\u00a0b\u2003c\u3000d\u0085e\u2028f\x1cg\x1fh\u200bi"),
              (std::vector<std::string>{"a", "b", "c", "d", "e", "f", "g", "h\u200bi"}));
    EXPECT_EQ(words_of("\u00e2\u0080"), (std::vector<std::string>{"\u00e2\u0080"}));  // lead bytes of spaces, not spaces
    EXPECT_TRUE(words_of(" ,;: \n").empty());
}

TEST(Decontaminate, RowTextIsEveryStringField) {
    Json row = Json::parse(R"({"messages": [{"role": "user", "content": "Q?"}, {"role": "assistant", "content": "A."}], "n": 3, "ok": true})");
    std::string text;
    row_text(row, text);
    EXPECT_EQ(text, "user\nQ?\nassistant\nA.\n");
}

// Synthetic prose: words from a fixed random vocabulary, capitalised sentences with punctuation.
class Prose {
public:
    explicit Prose(uint64_t seed) : rng_(seed) {
        std::mt19937_64 vocab_rng(7);  // one vocabulary for every generator
        for (int i = 0; i < 4000; ++i) {
            std::string w;
            int len = 2 + static_cast<int>(vocab_rng() % 8);
            for (int k = 0; k < len; ++k) w += static_cast<char>('a' + vocab_rng() % 26);
            vocab_.push_back(w);
        }
    }
    std::string word() { return vocab_[rng_() % vocab_.size()]; }
    std::string text(int words) {
        std::string s;
        bool sentence_start = true;
        for (int i = 0; i < words; ++i) {
            std::string w = word();
            if (sentence_start) w[0] = static_cast<char>(w[0] - 'a' + 'A');
            if (!s.empty()) s += ' ';
            s += w;
            sentence_start = false;
            if (rng_() % 12 == 0) s += ',';
            else if (rng_() % 9 == 0) s += '.', sentence_start = true;
        }
        return s + ".";
    }
    uint64_t next() { return rng_(); }

private:
    std::mt19937_64 rng_;
    std::vector<std::string> vocab_;
};

// An edited copy: three words replaced, case changed, punctuation added and removed, whitespace doubled.
std::string edit(const std::string& item, Prose& prose) {
    std::vector<std::string> words;
    for (size_t i = 0, j; i < item.size(); i = j + 1) {
        j = item.find(' ', i);
        if (j == std::string::npos) j = item.size();
        words.push_back(item.substr(i, j - i));
    }
    for (int k = 0; k < 3; ++k) words[prose.next() % words.size()] = prose.word();
    std::string out;
    for (size_t i = 0; i < words.size(); ++i) {
        std::string w = words[i];
        switch (prose.next() % 6) {
            case 0: for (char& c : w) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c))); break;
            case 1: w += "!"; break;
            case 2: w = "\"" + w + "\""; break;
            case 3: if (!w.empty() && (w.back() == '.' || w.back() == ',')) w.pop_back(); break;
            default: break;
        }
        if (i) out += prose.next() % 5 == 0 ? "  \n " : " ";
        out += w;
    }
    return out;
}

// A training row of one of the usual shapes holding `text` in one of its fields.
Json training_row(int kind, const std::string& text, Prose& prose) {
    switch (kind % 3) {
        case 0: return {{"instruction", prose.text(12)}, {"input", ""}, {"output", text}};
        case 1:
            return {{"messages", Json::array({{{"role", "user"}, {"content", prose.text(10)}}, {{"role", "assistant"}, {"content", text}}})}};
        default: return {{"text", text}};
    }
}

TEST(Decontaminate, FindsPlantedItemsInALargeFile) {
    test::TempDir dir;
    Prose prose(1);
    // 200 eval items of 40..70 words.
    std::vector<std::string> items;
    {
        std::ofstream eval(dir.str() + "/eval.jsonl");
        for (int i = 0; i < 200; ++i) {
            items.push_back(prose.text(40 + static_cast<int>(prose.next() % 31)));
            eval << Json{{"question", items.back()}}.dump() << "\n";
        }
    }
    // ~150,000 rows (~30 MB); items 0..99 planted verbatim, 100..199 edited, each inside other text.
    const std::string train = dir.str() + "/train.jsonl";
    std::map<int64_t, int> planted;  // line -> item
    {
        std::ofstream out(train);
        std::set<int64_t> lines;
        std::mt19937_64 pick(3);
        while (lines.size() < 200) lines.insert(1 + static_cast<int64_t>(pick() % 150000));
        auto next_line = lines.begin();
        for (int64_t line = 1, item = 0; line <= 150000; ++line) {
            std::string text = prose.text(20 + static_cast<int>(prose.next() % 40));
            if (next_line != lines.end() && *next_line == line) {
                std::string planted_text = item < 100 ? items[item] : edit(items[item], prose);
                text = prose.text(15) + " " + planted_text + " " + prose.text(15);
                planted[line] = static_cast<int>(item++);
                ++next_line;
            }
            out << training_row(static_cast<int>(line), text, prose).dump() << "\n";
        }
    }
    EvalNgrams eval(13);
    add_eval_files({dir.str() + "/eval.jsonl"}, {}, eval);
    eval.finish();
    ASSERT_EQ(eval.items().size(), 200u);
    EXPECT_EQ(eval.items()[5].text, items[5]);
    EXPECT_EQ(eval.items()[5].location, dir.str() + "/eval.jsonl:6");

    int verbatim_found = 0, edited_found = 0;
    std::vector<std::string> false_positives;
    auto stats = scan_training_files({train}, {}, eval, [&](const RawRow& row, std::string_view line, std::vector<ContaminationHit>&& hits) {
        EXPECT_EQ(line, row.value.dump());  // JSON Lines: the line as written (here, as dump() wrote it)
        auto it = planted.find(row.line);
        for (const auto& h : hits) {
            if (it == planted.end() || static_cast<int>(h.item) != it->second) {
                false_positives.push_back(row.file + ":" + std::to_string(row.line) + " -> item " + std::to_string(h.item));
                continue;
            }
            (it->second < 100 ? verbatim_found : edited_found)++;
            EXPECT_GE(h.overlap_words, 13);
            if (it->second < 100) {
                // Verbatim: every n-gram of the item, and the whole item as the overlap.
                EXPECT_EQ(h.matched_ngrams, eval.items()[h.item].ngrams);
                std::string expected;
                for (const auto& w : words_of(items[it->second])) expected += (expected.empty() ? "" : " ") + w;
                EXPECT_EQ(h.overlap, expected);
            }
        }
    });
    EXPECT_EQ(stats.rows, 150000);
    EXPECT_EQ(stats.contaminated_rows, static_cast<int64_t>(verbatim_found + edited_found));
    EXPECT_GT(stats.bytes, 20'000'000);
    std::cout << "verbatim items found: " << verbatim_found << " of 100, edited: " << edited_found << " of 100\n";
    EXPECT_EQ(verbatim_found, 100);
    EXPECT_GE(edited_found, 95);
    EXPECT_TRUE(false_positives.empty()) << false_positives.size() << " false positives, first: " << false_positives.front();

    // A clean file from another generator: nothing.
    const std::string clean = dir.str() + "/clean.jsonl";
    {
        std::ofstream out(clean);
        Prose other(99);
        for (int line = 1; line <= 20000; ++line) out << training_row(line, other.text(30), other).dump() << "\n";
    }
    int64_t hits_in_clean = 0;
    stats = scan_training_files({clean}, {}, eval, [&](const RawRow&, std::string_view, std::vector<ContaminationHit>&& hits) { hits_in_clean += static_cast<int64_t>(hits.size()); });
    EXPECT_EQ(stats.rows, 20000);
    EXPECT_EQ(hits_in_clean, 0);
}

TEST(Decontaminate, ItemsShorterThanTheNgramAreNeverFound) {
    EvalNgrams eval(5);
    eval.add({"e.jsonl", 1, "e.jsonl:1", "one two three four", 0});
    eval.add({"e.jsonl", 2, "e.jsonl:2", "One, two: THREE four five!", 0});
    eval.finish();
    EXPECT_EQ(eval.items()[0].ngrams, 0);
    EXPECT_EQ(eval.items()[1].ngrams, 1);
    ContaminationScanner scanner(eval);
    auto hits = scanner.scan("so: one two three four five six");
    ASSERT_EQ(hits.size(), 1u);
    EXPECT_EQ(hits[0].item, 1u);
    EXPECT_EQ(hits[0].overlap, "one two three four five");
    EXPECT_TRUE(scanner.scan("one two three four").empty());
}

TEST(Decontaminate, UnreadableRowNamesFileAndLine) {
    test::TempDir dir;
    std::string train = dir.str() + "/train.jsonl";
    std::ofstream(train) << "{\"text\": \"fine\"}\n{\"text\": broken}\n";
    EvalNgrams eval(2);
    eval.add({"e", 1, "e:1", "a b c", 0});
    eval.finish();
    try {
        scan_training_files({train}, {}, eval, [](const RawRow&, std::string_view, std::vector<ContaminationHit>&&) {});
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find(train + ":2:"), std::string::npos) << e.what();
    }
}

}  // namespace
}  // namespace lathe::data
