#include "core/eval/requests.h"

#include "core/eval/python_random.h"
#include "core/util/error.h"

namespace lathe::eval {

namespace {

using Json = nlohmann::ordered_json;

// The harness's default few-shot seed (fewshot_random_seed = 1234), set on each task's sampler.
constexpr uint64_t kFewshotSeed = 1234;

// The documents few-shot examples come from: fewshot_split, else training, validation, test.
const Split& fewshot_pool(const TaskConfig& c, const std::map<std::string, Split>& splits) {
    for (const auto* name : {&c.fewshot_split, &c.training_split, &c.validation_split, &c.test_split})
        if (*name) return splits.at(**name);
    LATHE_ASSERT(false);
}

// build_qa_turn's text for one answered example: question, target delimiter, answer, few-shot delimiter.
std::string labeled_example(const TaskConfig& c, const DocFormatter& f, const Doc& doc) {
    std::string q = f.text(doc);
    Json a = f.target(doc);
    bool has_answer = !a.is_null() && !(a.is_string() && a.get<std::string>().empty());
    if (!has_answer) return q;
    std::string answer;
    if (a.is_number_integer() && f.has_choices()) {
        auto choices = f.choices(doc);
        int64_t index = a.get<int64_t>();
        if (index < 0 || index >= static_cast<int64_t>(choices.size()))
            throw Error(c.file + ": doc_to_target: index " + std::to_string(index) + " is outside the " + std::to_string(choices.size()) + " choices of a few-shot document");
        answer = choices[index];
    } else if (a.is_array()) {
        if (a.empty() || !a[0].is_string()) throw Error(c.file + ": doc_to_target: a few-shot document's target list " + a.dump() + " does not start with text");
        answer = a[0].get<std::string>();
    } else if (a.is_string()) {
        answer = a.get<std::string>();
    } else {
        throw Error(c.file + ": doc_to_target: a few-shot document's target " + a.dump() + " is not text (and there are no choices to index)");
    }
    return q + c.target_delimiter + answer + c.fewshot_delimiter;
}

}  // namespace

TaskRequests build_requests(const TaskConfig& c, const std::map<std::string, Split>& splits, std::optional<int64_t> num_fewshot,
                            std::optional<int64_t> limit) {
    const Split& eval_split = splits.at(c.test_split ? *c.test_split : *c.validation_split);
    DocFormatter f(c, eval_split.features);
    const Split& pool_split = fewshot_pool(c, splits);
    DocFormatter pool_format(c, pool_split.features);

    TaskRequests out;
    out.total_docs = eval_split.docs.size();
    out.num_fewshot = c.num_fewshot.value_or(0);
    if (num_fewshot && !(c.num_fewshot && *c.num_fewshot == 0)) out.num_fewshot = *num_fewshot;
    // Rolling log-likelihood scores the target alone: the harness builds no context that counts.
    if (c.output_type == OutputType::loglikelihood_rolling) out.num_fewshot = 0;
    size_t n = eval_split.docs.size();
    if (limit && *limit >= 0) n = std::min<size_t>(n, static_cast<size_t>(*limit));

    PythonRandom rnd(kFewshotSeed);
    const std::vector<Doc>& pool = pool_split.docs;
    const size_t k = static_cast<size_t>(out.num_fewshot);
    // The harness passes the evaluated document for removal only when few-shot docs come from the
    // test split by name (fewshot_split == test_split; both unset counts as equal).
    const bool remove_eval_doc = c.fewshot_split == c.test_split;

    for (size_t id = 0; id < n; ++id) {
        const Doc& doc = eval_split.docs[id];
        DocRequests r;
        r.doc_id = id;
        r.doc = doc;
        std::string context = f.description(doc);
        if (k > 0) {
            std::vector<const Doc*> shots;
            if (c.fewshot_sampler == "first_n") {
                for (const auto& d : pool) {
                    if (remove_eval_doc && d == doc) continue;
                    if (shots.size() < k) shots.push_back(&d);
                }
                if (shots.size() < k) throw Error(c.file + ": " + std::to_string(k) + " few-shot examples asked, " + std::to_string(shots.size()) + " available");
            } else if (!remove_eval_doc) {
                for (size_t i : rnd.sample(pool.size(), k)) shots.push_back(&pool[i]);
            } else {
                for (size_t i : rnd.sample(pool.size(), k + 1))
                    if (pool[i] != doc && shots.size() < k) shots.push_back(&pool[i]);
                if (shots.size() < k) {  // duplicates of the document were drawn: draw again without any
                    std::vector<size_t> rest;
                    for (size_t i = 0; i < pool.size(); ++i)
                        if (pool[i] != doc) rest.push_back(i);
                    shots.clear();
                    for (size_t i : rnd.sample(rest.size(), k)) shots.push_back(&pool[rest[i]]);
                }
            }
            for (const Doc* shot : shots) context += labeled_example(c, pool_format, *shot);
        }
        if (c.output_type != OutputType::loglikelihood_rolling) context += f.text(doc);
        r.context = context;
        r.target = f.target(doc);
        if (f.has_choices()) r.choices = f.choices(doc);

        switch (c.output_type) {
            case OutputType::multiple_choice:
                for (const auto& choice : r.choices) r.pairs.emplace_back(context, c.target_delimiter + choice);
                break;
            case OutputType::loglikelihood:
                if (!r.target.is_string()) throw Error(c.file + ": doc_to_target: loglikelihood needs text to score, document " + std::to_string(id) + " gives " + r.target.dump());
                r.pairs.emplace_back(context, r.target.get<std::string>());
                break;
            case OutputType::loglikelihood_rolling:
                if (!r.target.is_string()) throw Error(c.file + ": doc_to_target: loglikelihood_rolling needs text to score, document " + std::to_string(id) + " gives " + r.target.dump());
                r.rolling_text = r.target.get<std::string>();
                break;
            case OutputType::generate_until: break;
        }
        out.docs.push_back(std::move(r));
    }
    return out;
}

}  // namespace lathe::eval
