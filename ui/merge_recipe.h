// What the Merge page asks `lathe merge` for: a mergekit recipe (docs/merge.md) made from the page's
// choices, the residual-transfer ("chat vector") recipe, and an estimate of the merge's memory, disk and
// time read from the model's safetensors headers. Torch-free: the merge itself runs in `lathe merge`.
#pragma once

#include <QList>
#include <QString>
#include <QStringList>

struct MergeInputRow {
    QString model;          // a folder or run:ID[:STEP]
    double weight = 1.0;
    double density = 1.0;   // ties, dare_*, breadcrumbs*
    double gamma = 0.01;    // breadcrumbs*
};

struct MergeRecipe {
    QString method = "linear";
    QString base;           // base_model ("" for linear without one)
    QList<MergeInputRow> models;
    double t = 0.5;         // slerp
    bool normalize = true;  // written for the methods that take it
    QString dtype;          // "" = as stored
};

// The methods `lathe merge` carries out, in the order the page offers them.
QStringList mergeMethods();
// Whether `method` takes the parameter ("weight", "density", "gamma", "t", "normalize").
bool methodTakes(const QString& method, const QString& parameter);
// Whether `method` needs a base_model (all but linear).
bool methodNeedsBase(const QString& method);
// normalize's default for the method, as mergekit has it.
bool methodNormalizes(const QString& method);

// The recipe as mergekit's YAML.
QString recipeYaml(const MergeRecipe& recipe);

// target + alpha · (finetuned − base): task_arithmetic from `base` with the target at weight 1 and the
// finetuned model at weight alpha, unnormalized (docs/merge.md, "Residual transfer").
MergeRecipe chatVectorRecipe(const QString& target, const QString& finetuned, const QString& base, double alpha, const QString& dtype);

struct MergeEstimate {
    QString error;              // the model could not be read (then nothing else is set)
    qint64 parameters = 0;
    qint64 model_bytes = 0;     // one input on disk
    qint64 output_bytes = 0;    // what the merge writes
    qint64 largest_tensor = 0;  // elements
    qint64 peak_bytes = 0;      // the merge's working memory
    double seconds = 0;         // reading every input and writing the output at `bytes_per_second`
};

// For `inputs` models shaped as the one in `model_dir` (every input of a merge has the same tensors), of
// which `prepared_inputs` are LoRA checkpoints merged into their base first (one full model each, one at
// a time); `out_element_bytes` 0 keeps the stored dtype.
MergeEstimate estimateMerge(const QString& model_dir, int inputs, int prepared_inputs, int out_element_bytes, double bytes_per_second);

// "1.2 GB", "340 MB", "12 KB".
QString formatBytes(qint64 bytes);
