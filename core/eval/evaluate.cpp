#include "core/eval/evaluate.h"

#include <chrono>

#include "core/eval/metrics.h"
#include "core/eval/requests.h"
#include "core/eval/scorer.h"
#include "core/eval/task_docs.h"
#include "core/util/error.h"

namespace lathe::eval {

using Json = nlohmann::ordered_json;

namespace {

struct PreparedTask {
    TaskConfig config;
    TaskRequests requests;
    size_t request_count = 0;  // model requests (choices, pairs, texts or prompts)
};

size_t count_requests(const PreparedTask& t) {
    size_t n = 0;
    for (const auto& d : t.requests.docs) n += t.config.output_type == OutputType::loglikelihood_rolling || t.config.output_type == OutputType::generate_until ? 1 : d.pairs.size();
    return n;
}

}  // namespace

Json evaluate_tasks(const DecoderLM& lm, const TextTokenizer& tokenizer, const std::vector<std::string>& task_files, const EvalOptions& options) {
    if (task_files.empty()) throw Error("no tasks given");
    // Read every task first: a bad file fails before any model time is spent.
    std::vector<PreparedTask> tasks;
    size_t total = 0;
    for (const auto& file : task_files) {
        PreparedTask t;
        t.config = load_task_config(file);
        for (const auto& other : tasks)
            if (other.config.task == t.config.task) throw Error(file + ": task '" + t.config.task + "' is given twice (also in " + other.config.file + ")");
        auto splits = load_task_docs(t.config);
        t.requests = build_requests(t.config, splits, options.num_fewshot, options.limit);
        t.request_count = count_requests(t);
        total += t.request_count;
        tasks.push_back(std::move(t));
    }

    const auto start = std::chrono::steady_clock::now();
    size_t finished = 0;  // requests of the tasks already done
    Json out = {{"results", Json::object()}, {"n-samples", Json::object()}, {"configs", Json::object()}};
    if (options.log_samples) out["samples"] = Json::object();

    for (auto& t : tasks) {
        const TaskConfig& c = t.config;
        ScorerOptions so;
        so.batch_size = options.batch_size;
        so.progress = [&](size_t done, size_t) {
            if (!options.on_event) return;
            double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
            size_t all_done = finished + done;
            double eta = all_done ? elapsed / static_cast<double>(all_done) * static_cast<double>(total - all_done) : 0.0;
            options.on_event(Json{{"event", "progress"}, {"task", c.task}, {"done", all_done}, {"total", total},
                                  {"fraction", total ? static_cast<double>(all_done) / static_cast<double>(total) : 1.0},
                                  {"elapsed_s", elapsed}, {"eta_s", eta}});
        };
        Scorer scorer(lm, tokenizer, so);

        std::vector<DocResponse> responses(t.requests.docs.size());
        switch (c.output_type) {
            case OutputType::multiple_choice:
            case OutputType::loglikelihood: {
                std::vector<std::pair<std::string, std::string>> pairs;
                for (const auto& d : t.requests.docs) pairs.insert(pairs.end(), d.pairs.begin(), d.pairs.end());
                auto lls = scorer.loglikelihood(pairs);
                size_t k = 0;
                for (size_t d = 0; d < t.requests.docs.size(); ++d)
                    for (size_t i = 0; i < t.requests.docs[d].pairs.size(); ++i) responses[d].loglikelihoods.push_back(lls[k++]);
                break;
            }
            case OutputType::loglikelihood_rolling: {
                std::vector<std::string> texts;
                for (const auto& d : t.requests.docs) texts.push_back(d.rolling_text);
                auto lls = scorer.loglikelihood_rolling(texts);
                for (size_t d = 0; d < lls.size(); ++d) responses[d].rolling_loglikelihood = lls[d];
                break;
            }
            case OutputType::generate_until: {
                std::vector<std::string> contexts;
                for (const auto& d : t.requests.docs) contexts.push_back(d.context);
                auto texts = scorer.generate_until(contexts, c.generation);
                for (size_t d = 0; d < texts.size(); ++d) responses[d].generation = texts[d];
                break;
            }
        }
        finished += t.request_count;

        Json per_doc;
        auto items = score_documents(c, t.requests, responses, options.log_samples ? &per_doc : nullptr);
        Json result = {{"alias", c.task}};
        result.update(aggregate(items, options.bootstrap_iters));
        out["results"][c.task] = result;
        out["n-samples"][c.task] = {{"original", t.requests.total_docs}, {"effective", t.requests.docs.size()}};
        out["configs"][c.task] = {{"file", c.file}, {"output_type", output_type_name(c.output_type)}, {"num_fewshot", t.requests.num_fewshot}};
        if (options.log_samples) {
            Json samples = Json::array();
            for (size_t d = 0; d < t.requests.docs.size(); ++d) {
                const DocRequests& r = t.requests.docs[d];
                Json s = {{"doc_id", r.doc_id}, {"doc", r.doc}, {"target", r.target}};
                if (!r.pairs.empty()) {
                    Json args = Json::array(), lls = Json::array(), greedy = Json::array();
                    for (size_t i = 0; i < r.pairs.size(); ++i) {
                        args.push_back(Json::array({r.pairs[i].first, r.pairs[i].second}));
                        lls.push_back(responses[d].loglikelihoods[i].first);
                        greedy.push_back(responses[d].loglikelihoods[i].second);
                    }
                    s["arguments"] = args;
                    s["loglikelihoods"] = lls;
                    s["is_greedy"] = greedy;
                } else if (c.output_type == OutputType::loglikelihood_rolling) {
                    s["arguments"] = Json::array({Json::array({r.rolling_text})});
                    s["loglikelihood"] = responses[d].rolling_loglikelihood;
                } else {
                    s["arguments"] = Json::array({Json::array({r.context})});
                    s["generation"] = responses[d].generation;
                }
                for (const auto& [k, v] : per_doc[d].items()) s[k] = v;
                samples.push_back(std::move(s));
            }
            out["samples"][c.task] = std::move(samples);
        }
    }
    return out;
}

}  // namespace lathe::eval
