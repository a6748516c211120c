#include "core/eval/metrics.h"

#include <cmath>
#include <string_view>

#include "core/eval/doc_format.h"
#include "core/eval/filters.h"
#include "core/eval/python_random.h"
#include "core/util/error.h"

namespace lathe::eval {

using Json = nlohmann::ordered_json;

size_t count_words(const std::string& text) {
    size_t pieces = 1;
    bool in_space = false;
    for (size_t i = 0; i < text.size();) {
        unsigned char c = static_cast<unsigned char>(text[i]);
        int n = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
        char32_t cp = n == 1 ? c : n == 2 ? (c & 0x1F) : n == 3 ? (c & 0x0F) : (c & 0x07);
        for (int k = 1; k < n && i + k < text.size(); ++k) cp = (cp << 6) | (static_cast<unsigned char>(text[i + k]) & 0x3F);
        i += n;
        bool space = py_isspace(cp);
        if (space && !in_space) ++pieces;
        in_space = space;
    }
    return pieces;
}

namespace {

size_t argmax(const std::vector<double>& v) {
    size_t best = 0;
    for (size_t i = 1; i < v.size(); ++i)
        if (v[i] > v[best]) best = i;  // numpy's argmax: the first of equal maxima
    return best;
}

std::string ascii_lower(std::string s) {
    for (char& c : s)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return s;
}

std::string remove_chars(const std::string& s, std::string_view chars) {
    std::string out;
    for (char c : s)
        if (chars.find(c) == std::string_view::npos) out += c;
    return out;
}

// exact_match_hf_evaluate for one (reference, prediction) pair.
double exact_match(const MetricSpec& m, std::string reference, std::string prediction) {
    for (const auto& pattern : m.regexes_to_ignore) {
        prediction = regex_remove(pattern, prediction);
        reference = regex_remove(pattern, reference);
    }
    if (m.ignore_case) prediction = ascii_lower(prediction), reference = ascii_lower(reference);
    if (m.ignore_punctuation) {
        static constexpr std::string_view punctuation = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";
        prediction = remove_chars(prediction, punctuation), reference = remove_chars(reference, punctuation);
    }
    if (m.ignore_numbers) prediction = remove_chars(prediction, "0123456789"), reference = remove_chars(reference, "0123456789");
    return prediction == reference ? 1.0 : 0.0;
}

// Python's sum() over floats: left to right from 0.
double py_sum(const std::vector<double>& v) {
    double s = 0;
    for (double x : v) s += x;
    return s;
}
double py_mean(const std::vector<double>& v) { return py_sum(v) / static_cast<double>(v.size()); }

double sample_stddev(const std::vector<double>& v) {
    double mu = py_mean(v);
    double s = 0;
    for (double x : v) s += (x - mu) * (x - mu);
    return std::sqrt(s / static_cast<double>(v.size() - 1));
}

// bootstrap_stderr(perplexity, xs, iters): chunks of 1000 resamples, chunk i drawn with Random(i).
double bootstrap_perplexity_stderr(const std::vector<double>& xs, int iters) {
    const int chunk = std::min(1000, iters);
    std::vector<double> results;
    results.reserve(iters);
    std::vector<double> resample(xs.size());
    for (int i = 0; i < iters / chunk; ++i) {
        PythonRandom rnd(static_cast<uint64_t>(i));
        for (int r = 0; r < chunk; ++r) {
            auto picks = rnd.choices(xs.size(), xs.size());
            for (size_t j = 0; j < picks.size(); ++j) resample[j] = xs[picks[j]];
            results.push_back(std::exp(-py_mean(resample)));
        }
    }
    return sample_stddev(results);
}

}  // namespace

std::vector<MetricItems> score_documents(const TaskConfig& c, const TaskRequests& requests, const std::vector<DocResponse>& responses,
                                         Json* per_doc) {
    LATHE_ASSERT(requests.docs.size() == responses.size());
    std::vector<MetricItems> items;
    for (const auto& filter : c.filters)
        for (const auto& m : c.metrics) items.push_back(MetricItems{.metric = m.name, .filter = filter.name, .values = {}, .weights = {}});
    if (per_doc) *per_doc = Json::array();

    for (size_t d = 0; d < requests.docs.size(); ++d) {
        const DocRequests& r = requests.docs[d];
        const DocResponse& resp = responses[d];
        Json sample = Json::object();
        size_t item = 0;
        for (const auto& filter : c.filters) {
            std::string filtered;
            if (c.output_type == OutputType::generate_until) filtered = apply_filter(filter, resp.generation);
            for (const auto& m : c.metrics) {
                MetricItems& out = items[item++];
                double value = 0, weight = 0;
                switch (c.output_type) {
                    case OutputType::loglikelihood: {
                        auto [ll, greedy] = resp.loglikelihoods.at(0);
                        value = m.name == "perplexity" ? ll : (greedy ? 1.0 : 0.0);
                        break;
                    }
                    case OutputType::loglikelihood_rolling: {
                        value = resp.rolling_loglikelihood;
                        weight = m.name == "word_perplexity" ? static_cast<double>(count_words(r.rolling_text))
                                                             : static_cast<double>(r.rolling_text.size());
                        break;
                    }
                    case OutputType::multiple_choice: {
                        std::vector<double> lls, norm;
                        for (size_t i = 0; i < r.choices.size(); ++i) {
                            lls.push_back(resp.loglikelihoods[i].first);
                            norm.push_back(resp.loglikelihoods[i].first / static_cast<double>(py_len(r.choices[i])));
                        }
                        // The gold answer: an index, a choice's text, or (several targets) a list.
                        std::vector<int64_t> gold;
                        auto index_of = [&](const Json& g) -> int64_t {
                            if (g.is_number_integer()) {
                                int64_t i = g.get<int64_t>();
                                return i < static_cast<int64_t>(r.choices.size()) ? i : -100;
                            }
                            if (g.is_string())
                                for (size_t i = 0; i < r.choices.size(); ++i)
                                    if (r.choices[i] == g.get<std::string>()) return static_cast<int64_t>(i);
                            return -100;
                        };
                        bool several = r.target.is_array();
                        if (several)
                            for (const auto& g : r.target) gold.push_back(index_of(g));
                        else
                            gold.push_back(index_of(r.target));
                        auto hit = [&](size_t pred) {
                            for (int64_t g : gold)
                                if (g == static_cast<int64_t>(pred)) return 1.0;
                            return 0.0;
                        };
                        if (m.name == "acc") value = hit(argmax(lls));
                        else if (m.name == "acc_norm") value = hit(argmax(norm));
                        else {  // exact_match: the gold continuation is the greedy one
                            value = 0;
                            for (int64_t g : gold)
                                if (g != -100 && resp.loglikelihoods[g].second) value = 1;
                        }
                        break;
                    }
                    case OutputType::generate_until: {
                        // The gold answer as text: a choice when doc_to_choice is set, else str(target).
                        std::vector<std::string> golds;
                        if (!r.choices.empty() && r.target.is_number_integer()) {
                            int64_t i = r.target.get<int64_t>();
                            if (i < 0 || i >= static_cast<int64_t>(r.choices.size()))
                                throw Error(c.file + ": doc_to_target: index " + std::to_string(i) + " is outside the choices of document " + std::to_string(r.doc_id));
                            golds.push_back(r.choices[i]);
                        } else if (r.target.is_array()) {
                            for (const auto& g : r.target) golds.push_back(py_str(g));
                        } else {
                            golds.push_back(py_str(r.target));
                        }
                        value = 0;
                        for (const auto& g : golds) value = std::max(value, exact_match(m, g, filtered));
                        break;
                    }
                }
                out.values.push_back(value);
                out.weights.push_back(weight);
                sample[m.name + "," + filter.name] = value;
            }
            if (c.output_type == OutputType::generate_until) sample["filtered_resps," + filter.name] = filtered;
        }
        if (per_doc) per_doc->push_back(std::move(sample));
    }
    return items;
}

Json aggregate(const std::vector<MetricItems>& items, int bootstrap_iters) {
    Json out = Json::object();
    for (const auto& it : items) {
        const std::string key = it.metric + "," + it.filter, stderr_key = it.metric + "_stderr," + it.filter;
        const size_t n = it.values.size();
        if (n == 0) continue;
        if (it.metric == "perplexity") {
            out[key] = std::exp(-py_mean(it.values));
            if (n > 1 && bootstrap_iters > 0) out[stderr_key] = bootstrap_perplexity_stderr(it.values, bootstrap_iters);
            else out[stderr_key] = "N/A";
        } else if (it.metric == "word_perplexity" || it.metric == "byte_perplexity" || it.metric == "bits_per_byte") {
            double weighted = py_sum(it.values) / py_sum(it.weights);
            out[key] = it.metric == "bits_per_byte" ? -weighted / std::log(2.0) : std::exp(-weighted);
            out[stderr_key] = "N/A";  // no stderr function for these aggregations
        } else {
            out[key] = py_mean(it.values);
            if (n > 1 && bootstrap_iters > 0) out[stderr_key] = sample_stddev(it.values) / std::sqrt(static_cast<double>(n));
            else out[stderr_key] = "N/A";
        }
    }
    return out;
}

}  // namespace lathe::eval
