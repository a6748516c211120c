// Sample packing with rows of every kind render_sample makes: chat, alpaca, prompt/completion and text
// rows, rendered from the transformers references (tests/interop/make_render_references.py), keep their
// tokens, labels (transformers' masks) and own positions inside a packed row.
#include <gtest/gtest.h>

#include <ATen/core/Tensor.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/data/render.h"
#include "tests/data/render_cases.h"
#include "core/train/batch.h"

namespace lathe {
namespace {

using namespace lathe::data;

TEST(SamplePacking, RenderedRowsOfEveryKindKeepTheirLabels) {
    const char* refs = std::getenv("LATHE_INTEROP_REFS");
    ASSERT_TRUE(refs) << "LATHE_INTEROP_REFS is not set (ctest sets it)";
    std::string dir = std::string(refs) + "/render/chatml";
    TextTokenizer tok = TextTokenizer::load(dir);
    auto cases = nlohmann::ordered_json::parse(std::ifstream(dir + "/cases.json"));
    std::vector<Example> rows;
    std::vector<nlohmann::ordered_json> expected;
    for (const auto& c : cases) {
        if (c["kind"] == "chat" && !c["train_on_eos"].get<bool>()) continue;
        data::RenderOptions o;
        if (c.contains("prompt_template")) o.prompt_template = c["prompt_template"];
        auto r = render_sample(test::sample_from_render_case(c), tok, o);
        ASSERT_TRUE(std::holds_alternative<RenderedRow>(r)) << c["case"];
        const auto& row = std::get<RenderedRow>(r);
        rows.push_back(Example{row.input_ids, row.labels});
        expected.push_back(c);
    }
    ASSERT_GE(rows.size(), 8u);
    std::vector<const Example*> ordered;
    for (const auto& e : rows) ordered.push_back(&e);
    auto packs = pack_examples(ordered, 160);
    ASSERT_LT(packs.size(), rows.size());  // rows really share packed rows
    Batch b = collate_packed(packs, *tok.pad_id());
    auto ids = b.input_ids.accessor<int64_t, 2>();
    auto labels = b.labels.accessor<int64_t, 2>();
    auto pos = b.position_ids.accessor<int64_t, 2>();
    auto seq = b.sequence_ids.accessor<int64_t, 2>();
    size_t next = 0;
    for (size_t p = 0; p < packs.size(); ++p) {
        int64_t t = 0;
        for (size_t k = 0; k < packs[p].size(); ++k, ++next) {
            auto want_ids = expected[next]["input_ids"].get<std::vector<int64_t>>();
            auto want_labels = expected[next]["labels"].get<std::vector<int64_t>>();
            for (size_t j = 0; j < want_ids.size(); ++j, ++t) {
                SCOPED_TRACE(expected[next]["case"].get<std::string>() + " token " + std::to_string(j));
                EXPECT_EQ(ids[p][t], want_ids[j]);
                // The first token of a sequence is predicted by nothing (not by the previous sequence).
                EXPECT_EQ(labels[p][t], j == 0 ? -100 : want_labels[j]);
                EXPECT_EQ(pos[p][t], static_cast<int64_t>(j));
                EXPECT_EQ(seq[p][t], static_cast<int64_t>(k + 1));
            }
        }
    }
    EXPECT_EQ(next, rows.size());
}

}  // namespace
}  // namespace lathe
