#include "ui/merge_recipe.h"

#include <algorithm>
#include <exception>

#include "core/io/checkpoint.h"
#include "core/io/dtype.h"

namespace {

// A YAML double-quoted scalar (JSON's escapes), so any path reads back as written.
QString quoted(const QString& text) {
    QString out = "\"";
    for (QChar c : text) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    return out + "\"";
}

QString number(double v) { return QString::number(v, 'g', 10); }

}  // namespace

QStringList mergeMethods() {
    return {"linear", "task_arithmetic", "ties", "dare_ties", "dare_linear", "breadcrumbs", "breadcrumbs_ties", "slerp"};
}

bool methodNeedsBase(const QString& method) { return method != "linear"; }

bool methodTakes(const QString& method, const QString& parameter) {
    if (method == "slerp") return parameter == "t";
    if (parameter == "t") return false;
    if (parameter == "weight" || parameter == "normalize") return true;
    if (parameter == "density") return method != "linear" && method != "task_arithmetic";
    if (parameter == "gamma") return method.startsWith("breadcrumbs");
    return false;
}

bool methodNormalizes(const QString& method) { return method == "linear" || method == "ties"; }

QString recipeYaml(const MergeRecipe& r) {
    QString y = "merge_method: " + r.method + "\n";
    if (!r.base.isEmpty()) y += "base_model: " + quoted(r.base) + "\n";
    y += "models:\n";
    for (const MergeInputRow& m : r.models) {
        y += "  - model: " + quoted(m.model) + "\n";
        if (r.method == "slerp") continue;
        y += "    parameters:\n      weight: " + number(m.weight) + "\n";
        if (methodTakes(r.method, "density")) y += "      density: " + number(m.density) + "\n";
        if (methodTakes(r.method, "gamma")) y += "      gamma: " + number(m.gamma) + "\n";
    }
    if (r.method == "slerp") y += "parameters:\n  t: " + number(r.t) + "\n";
    else y += QString("parameters:\n  normalize: %1\n").arg(r.normalize ? "true" : "false");
    if (!r.dtype.isEmpty()) y += "dtype: " + r.dtype + "\n";
    return y;
}

MergeRecipe chatVectorRecipe(const QString& target, const QString& finetuned, const QString& base, double alpha, const QString& dtype) {
    MergeRecipe r;
    r.method = "task_arithmetic";
    r.base = base;
    r.models = {MergeInputRow{.model = target, .weight = 1.0, .density = 1.0, .gamma = 0.01},
                MergeInputRow{.model = finetuned, .weight = alpha, .density = 1.0, .gamma = 0.01}};
    r.normalize = false;  // normalized, the sum would be divided by 1 + alpha
    r.dtype = dtype;
    return r;
}

MergeEstimate estimateMerge(const QString& model_dir, int inputs, int prepared_inputs, int out_element_bytes, double bytes_per_second) {
    MergeEstimate e;
    try {
        const lathe::Checkpoint ckpt = lathe::Checkpoint::open_dir(model_dir.toStdString());
        for (const std::string& name : ckpt.names()) {
            const lathe::TensorEntry& t = *ckpt.at(name).entry;
            const qint64 n = t.numel();
            e.parameters += n;
            e.largest_tensor = std::max(e.largest_tensor, n);
            e.output_bytes += n * (out_element_bytes > 0 ? out_element_bytes : static_cast<qint64>(lathe::element_size(t.dtype)));
        }
        e.model_bytes = static_cast<qint64>(ckpt.total_bytes());
    } catch (const std::exception& ex) {
        e.error = QString::fromUtf8(ex.what());
        return e;
    }
    // One tensor at a time: each input's copy in the merge dtype and the float32 sums beside it.
    const qint64 per_tensor = e.largest_tensor * 4 * (inputs + 3);
    // A LoRA checkpoint is merged into its base first: one full model while that runs.
    e.peak_bytes = prepared_inputs > 0 ? std::max(per_tensor, 2 * e.model_bytes) : per_tensor;
    const double moved = static_cast<double>(e.model_bytes) * (inputs + 2 * prepared_inputs) + static_cast<double>(e.output_bytes);
    e.seconds = bytes_per_second > 0 ? moved / bytes_per_second : 0;
    return e;
}

QString formatBytes(qint64 bytes) {
    const double b = static_cast<double>(bytes);
    if (b >= 1e9) return QString::number(b / 1e9, 'f', 1) + " GB";
    if (b >= 1e6) return QString::number(b / 1e6, 'f', 0) + " MB";
    return QString::number(std::max(1.0, b / 1e3), 'f', 0) + " KB";
}
