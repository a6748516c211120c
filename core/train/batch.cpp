#include "core/train/batch.h"

#include <ATen/ops/full.h>
#include <ATen/ops/zeros.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "core/util/error.h"
#include "core/util/json_file.h"

namespace lathe {

std::vector<Example> read_pretokenized_jsonl(const std::string& path) {
    std::vector<Example> out;
    for_each_jsonl(path, [&](size_t number, const nlohmann::json& j) {
        auto where = [&] { return path + ":" + std::to_string(number) + ": "; };
        auto ids_of = [&](const char* key) {
            const auto& v = j[key];
            if (!v.is_array()) throw Error(where() + "'" + key + "' must be a list of integers");
            std::vector<int64_t> ids;
            for (const auto& x : v) {
                if (!x.is_number_integer()) throw Error(where() + "'" + key + "' must hold integers, found " + x.dump());
                ids.push_back(x.get<int64_t>());
            }
            return ids;
        };
        if (!j.is_object() || !j.contains("input_ids")) throw Error(where() + "expected an object with \"input_ids\"");
        Example e;
        e.input_ids = ids_of("input_ids");
        if (e.input_ids.empty()) throw Error(where() + "'input_ids' is empty");
        e.labels = j.contains("labels") ? ids_of("labels") : e.input_ids;
        if (e.labels.size() != e.input_ids.size())
            throw Error(where() + "'labels' has " + std::to_string(e.labels.size()) + " entries but 'input_ids' has " +
                        std::to_string(e.input_ids.size()));
        out.push_back(std::move(e));
    });
    return out;
}

Batch collate(const std::vector<Example>& rows, int64_t pad_id) {
    LATHE_ASSERT(!rows.empty());
    size_t longest = 0;
    for (const auto& r : rows) longest = std::max(longest, r.input_ids.size());
    const int64_t B = static_cast<int64_t>(rows.size()), T = static_cast<int64_t>(longest);
    auto opts = at::TensorOptions().dtype(at::kLong);
    Batch b;
    b.input_ids = at::full({B, T}, pad_id, opts);
    b.labels = at::full({B, T}, -100, opts);
    b.attention_mask = at::full({B, T}, 0, opts);
    auto ids = b.input_ids.accessor<int64_t, 2>();
    auto labels = b.labels.accessor<int64_t, 2>();
    auto mask = b.attention_mask.accessor<int64_t, 2>();
    for (int64_t i = 0; i < B; ++i)
        for (size_t t = 0; t < rows[i].input_ids.size(); ++t) {
            ids[i][t] = rows[i].input_ids[t];
            labels[i][t] = rows[i].labels[t];
            mask[i][t] = 1;
            if (t > 0 && rows[i].labels[t] != -100) ++b.label_tokens;
        }
    return b;
}

}  // namespace lathe

namespace lathe {

std::vector<Pack> pack_examples(const std::vector<const Example*>& ordered, int64_t max_tokens) {
    std::vector<Pack> packs;
    int64_t used = 0;
    for (const Example* e : ordered) {
        const int64_t n = static_cast<int64_t>(e->input_ids.size());
        if (packs.empty() || used + n > max_tokens) {
            packs.emplace_back();
            used = 0;
        }
        packs.back().push_back(e);
        used += n;
    }
    return packs;
}

Batch collate_packed(const std::vector<Pack>& packs, int64_t pad_id) {
    std::vector<Example> rows;
    std::vector<std::vector<int64_t>> positions, sequences;
    for (const auto& pack : packs) {
        Example row;
        std::vector<int64_t> pos, seq;
        int64_t id = 0;
        for (const Example* e : pack) {
            ++id;
            for (size_t t = 0; t < e->input_ids.size(); ++t) {
                row.input_ids.push_back(e->input_ids[t]);
                row.labels.push_back(t == 0 ? -100 : e->labels[t]);  // nothing predicts across a boundary
                pos.push_back(static_cast<int64_t>(t));
                seq.push_back(id);
            }
        }
        rows.push_back(std::move(row));
        positions.push_back(std::move(pos));
        sequences.push_back(std::move(seq));
    }
    Batch b = collate(rows, pad_id);
    auto opts = at::TensorOptions().dtype(at::kLong);
    b.position_ids = at::zeros(b.input_ids.sizes(), opts);
    b.sequence_ids = at::zeros(b.input_ids.sizes(), opts);
    auto p = b.position_ids.accessor<int64_t, 2>();
    auto q = b.sequence_ids.accessor<int64_t, 2>();
    for (size_t i = 0; i < rows.size(); ++i)
        for (size_t t = 0; t < positions[i].size(); ++t) {
            p[i][t] = positions[i][t];
            q[i][t] = sequences[i][t];
        }
    return b;
}

}  // namespace lathe
